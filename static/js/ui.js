/**
 * The room page: the device check before joining, then the call and its controls.
 * Everything page-specific lives here; the library modules know nothing of the DOM.
 * @module ui
 */
import { GameUI } from './game-ui.js';
import { HostingUI } from './hosting-ui.js';
import { describeMediaError, listDevices, openLocalMedia, openTrack } from './media.js';
import { RoomClient } from './room.js';
import { SignalingClient } from './signaling.js';
import { TileGrid, ViewPrefs } from './tiles.js';
import { WebRTCClient } from './webrtc.js';

const DEVICES_KEY = 'rhystic:devices';

/** @param {string} id @returns {any} */
const $ = (id) => document.getElementById(id);

class RoomPage {
  /** @param {HTMLElement} root */
  constructor(root) {
    const data = root.dataset;
    this.root = root;
    this.roomId = data.roomId;
    this.maxPeers = Number(data.maxPeers);
    this.signedIn = data.signedIn === '1';
    this.displayName = data.displayName;
    this.capture = {
      width: Number(data.captureWidth), height: Number(data.captureHeight),
      fps: Number(data.captureFps),
    };
    /** @type {?MediaStream} */
    this.stream = null;
    this.devices = loadDevices();
    this.room = null;
  }

  start() {
    $('join-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.join();
    });
    $('retry-button').addEventListener('click', () => this.checkSeats());
    $('camera-select').addEventListener('change', (e) => this.pickLobbyDevice('cameraId', e));
    $('mic-select').addEventListener('change', (e) => this.pickLobbyDevice('micId', e));
    if (!$('join-button').disabled) this.openPreview();
  }

  /** Open (or reopen) the preview; join() waits for the one in flight. */
  openPreview() {
    this.previewReady = (this.previewReady ?? Promise.resolve())
      .catch(() => {}).then(() => this._openPreview());
    return this.previewReady;
  }

  // -- before joining -------------------------------------------------------------

  async _openPreview() {
    this.stream?.getTracks().forEach((track) => track.stop());
    const { stream, error } = await openLocalMedia({ ...this.devices, capture: this.capture });
    this.stream = stream;
    $('preview').srcObject = stream;
    $('preview').classList.toggle('mirrored', isSelfieCamera(stream));
    const status = $('preview-status');
    status.textContent = error ? describeMediaError(error)
      : stream.getVideoTracks().length ? '' : 'No camera: you can still watch and talk.';
    status.hidden = !status.textContent;
    await this.fillDeviceLists();
  }

  async fillDeviceLists() {
    const { cameras, mics } = await listDevices();
    const camera = this.stream?.getVideoTracks()[0]?.getSettings().deviceId;
    const mic = this.stream?.getAudioTracks()[0]?.getSettings().deviceId;
    for (const id of ['camera-select', 'call-camera-select']) fillSelect($(id), cameras, camera, 'Camera');
    for (const id of ['mic-select', 'call-mic-select']) fillSelect($(id), mics, mic, 'Microphone');
  }

  /** @param {'cameraId'|'micId'} key @param {Event} event */
  pickLobbyDevice(key, event) {
    this.devices[key] = event.target.value || null;
    saveDevices(this.devices);
    this.openPreview();
  }

  async checkSeats() {
    try {
      const response = await fetch(`/api/rooms/${encodeURIComponent(this.roomId)}`);
      const room = await response.json();
      this.showSeats(room.peer_count, room.max_peers);
    } catch {
      /* keep what the page says */
    }
  }

  showSeats(taken, max) {
    const full = taken >= max;
    $('seats').textContent = full ? `All ${max} seats are taken` : `${max - taken} of ${max} seats free`;
    this.showFull(full);
  }

  /** @param {boolean} full */
  showFull(full) {
    $('full-notice').hidden = !full;
    $('join-button').disabled = full;
    $('retry-button').hidden = !full;
    if (!full && !this.stream) this.openPreview();
  }

  // -- joining ----------------------------------------------------------------------

  async join() {
    const name = $('name-input').value.trim();
    $('join-error').textContent = '';
    if (!name) {
      $('join-error').textContent = 'Type the name the others will see first.';
      return;
    }
    $('join-button').disabled = true;
    try {
      await this.signIn(name);
      await (this.previewReady ?? this.openPreview());
      this.hosting ??= new HostingUI(this.root);  // a locked room: knock, and wait at the door
      await this.hosting.enter(() => this.connect(name), { roomId: this.roomId, displayName: name });
    } catch (error) {
      this.room = null;
      $('join-button').disabled = false;
      if (error.code === 'room_full') {
        this.showSeats(this.maxPeers, this.maxPeers);
        return;
      }
      $('join-error').textContent = error.message || String(error);
    }
  }

  /** Sign in as a guest under this name, or remember a new name for this player. */
  async signIn(name) {
    if (!this.signedIn) {
      await postJson('POST', '/api/users', { display_name: name });
      this.signedIn = true;
    } else if (name !== this.displayName) {
      await postJson('PATCH', '/api/me', { display_name: name });
    }
    this.displayName = name;
  }

  async connect(name) {
    const signaling = new SignalingClient(location.origin);
    const webrtc = new WebRTCClient(signaling, {});
    const room = new RoomClient(signaling, webrtc);
    this.room = room;
    this.webrtc = webrtc;
    this.table ??= new GameUI(this.root);  // the game table (game-ui.js): before joining,
    this.table.connect(signaling, room);   // so that it reads the welcome's game
    this.hosting?.connect(signaling, room);  // the host's controls (hosting-ui.js)
    this.wireCall(room, webrtc);
    await room.joinRoom(this.roomId, { displayName: name, stream: this.stream });
    this.showCall();
  }

  // -- the call ---------------------------------------------------------------------

  /** @param {RoomClient} room @param {WebRTCClient} webrtc */
  wireCall(room, webrtc) {
    this.tiles = new TileGrid({
      grid: $('grid'), stage: $('stage'), template: $('tile-template'),
      prefs: new ViewPrefs(this.roomId),
      onSpotlight: (peerId) => webrtc.setSpotlight(peerId),
      onSoundBlocked: () => this.banner('Click anywhere to turn on the sound.', 'sound'),
      onKick: (peerId) => room.kick(peerId),
    });
    webrtc.onTrack = (stream, peerId) => this.tiles.setStream(peerId, stream);
    webrtc.on('link-state', (peerId, state) => this.tiles.setLinkState(peerId, state));
    webrtc.on('stats', (peerId, stats) => this.tiles.setStats(peerId, stats));
    room.on('welcome', (welcome) => {
      if (!this.tiles.tiles.has(welcome.peer_id)) {
        for (const [id, tile] of this.tiles.tiles) if (tile.peer.self) this.tiles.remove(id);
        this.tiles.addSelf(welcome.self, this.stream, isSelfieCamera(this.stream));
      }
      this.tiles.setCanKick(room.owner);
      this.updateSeats();
    });
    room.on('peer-added', (peer) => {
      this.tiles.upsert(peer);
      const stream = webrtc.remoteStream(peer.peer_id);
      if (stream) this.tiles.setStream(peer.peer_id, stream);
      const state = webrtc.linkState(peer.peer_id);
      if (state) this.tiles.setLinkState(peer.peer_id, state);
      this.updateSeats();
    });
    room.on('peer-updated', (peer) => this.tiles.upsert(peer));
    room.on('room-updated', () => this.tiles.setCanKick(room.owner));  // the host changed
    room.on('peer-removed', (peerId) => {
      this.tiles.remove(peerId);
      this.updateSeats();
    });
    room.on('state', (state) => {
      this.root.dataset.signaling = state;
      if (state === 'reconnecting') {
        this.banner('Reconnecting to the server… video keeps flowing meanwhile.', 'signaling');
      } else if (state === 'connected') {
        this.clearBanner('signaling');
      }
    });
    room.on('refused', (error) => {
      if (this.room !== room || this.root.dataset.view !== 'call') return;
      if (error.code === 'kicked') {
        // Not a network problem: no reconnecting, and no Rejoin while the ban lasts.
        this.showLeft('The host removed you. You can join again in 10 minutes.',
          'You were removed from this room', { rejoin: false });
      } else {
        this.showLeft(error.message);
      }
    });
  }

  showCall() {
    this.root.dataset.view = 'call';
    $('lobby').hidden = true;
    $('call').hidden = false;
    $('mute-button').addEventListener('click', () => this.toggle('audio'));
    $('camera-button').addEventListener('click', () => this.toggle('video'));
    $('call-camera-select').addEventListener('change', (e) => this.switchDevice('video', e.target.value));
    $('call-mic-select').addEventListener('change', (e) => this.switchDevice('audio', e.target.value));
    $('invite-button').addEventListener('click', () => this.copyInvite());
    $('fullscreen-button').addEventListener('click', () => toggleFullscreen($('stage')));
    $('leave-button').addEventListener('click', () => this.leave());
    document.addEventListener('click', () => {
      if (this.clearBanner('sound')) this.tiles.unmuteAll();
    });
    this.renderControls();
  }

  updateSeats() {
    const taken = (this.room?.peers.size ?? 0) + 1;
    $('call-seats').textContent = `${taken} of ${this.maxPeers} seats`;
  }

  /** @param {'audio'|'video'} kind */
  async toggle(kind) {
    const on = !(this.room.self?.media?.[kind] ?? true);
    await this.room.setMedia({ [kind]: on });
    this.tiles.upsert(this.room.self);
    this.renderControls();
  }

  renderControls() {
    const media = this.room.self?.media ?? { audio: true, video: true };
    setPressed($('mute-button'), !media.audio, media.audio ? 'Mute' : 'Unmute');
    setPressed($('camera-button'), !media.video, media.video ? 'Camera off' : 'Camera on');
  }

  /** Swap the camera or microphone mid-call: replaceTrack, no renegotiation. */
  async switchDevice(kind, deviceId) {
    if (!deviceId) return;
    try {
      const track = await openTrack(kind, deviceId, this.capture);
      const old = this.stream.getTracks().find((t) => t.kind === kind);
      track.enabled = old ? old.enabled : true;
      await this.webrtc.replaceTrack(kind, track);
      old?.stop();
      this.devices[kind === 'video' ? 'cameraId' : 'micId'] = deviceId;
      saveDevices(this.devices);
      if (kind === 'video') {
        const self = $('grid').querySelector('.tile.self video');
        self.srcObject = this.stream;
        this.tiles.setMirrored(isSelfieCamera(this.stream));
      }
    } catch (error) {
      this.banner(describeMediaError(error), 'device');
    }
  }

  async copyInvite() {
    const link = `${location.origin}/r/${this.roomId}`;
    const button = $('invite-button');
    try {
      await navigator.clipboard.writeText(link);
      button.textContent = 'Link copied';
    } catch {
      button.textContent = link;  // no clipboard: show it to copy by hand
    }
    setTimeout(() => { button.textContent = 'Copy invite link'; }, 2500);
  }

  leave() {
    this.room?.leaveRoom();
    this.showLeft('The others can no longer see you.');
  }

  /**
   * @param {string} reason
   * @param {string} [title]
   * @param {{rejoin?: boolean}} [options]
   */
  showLeft(reason, title = 'You left the table', { rejoin = true } = {}) {
    this.room?.leaveRoom();
    this.room = null;
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
    this.root.dataset.view = 'left';
    $('call').hidden = true;
    $('left').hidden = false;
    $('left-title').textContent = title;
    $('left-reason').textContent = reason;
    $('rejoin-link').hidden = !rejoin;
  }

  /** @param {string} text @param {string} kind */
  banner(text, kind) {
    const el = $('call-banner');
    el.textContent = text;
    el.dataset.kind = kind;
    el.hidden = false;
  }

  /** @param {string} kind @returns {boolean} whether that banner was showing */
  clearBanner(kind) {
    const el = $('call-banner');
    if (el.hidden || el.dataset.kind !== kind) return false;
    el.hidden = true;
    return true;
  }
}

/** A selfie camera is shown mirrored to its owner; a table camera never is. */
function isSelfieCamera(stream) {
  const track = stream?.getVideoTracks()[0];
  if (!track) return false;
  const facing = track.getSettings().facingMode;
  if (facing) return facing === 'user';
  return !/\b(back|rear|environment|document|overhead|table)\b/i.test(track.label);
}

/** @param {HTMLSelectElement} select @param {MediaDeviceInfo[]} devices */
function fillSelect(select, devices, current, noun) {
  select.replaceChildren(...devices.map((device, i) => {
    const option = document.createElement('option');
    option.value = device.deviceId;
    option.textContent = device.label || `${noun} ${i + 1}`;
    option.selected = device.deviceId === current;
    return option;
  }));
  if (!devices.length) {
    const option = document.createElement('option');
    option.value = '';
    option.textContent = `No ${noun.toLowerCase()} found`;
    select.append(option);
  }
  select.disabled = devices.length < 2;
}

function setPressed(button, pressed, label) {
  button.setAttribute('aria-pressed', String(pressed));
  button.querySelector('.control-label').textContent = label;
}

function toggleFullscreen(element) {
  if (document.fullscreenElement) document.exitFullscreen();
  else element.requestFullscreen?.().catch(() => {});
}

async function postJson(method, url, body) {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const response = await fetch(url, {
    method, credentials: 'same-origin', body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': token },
  });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new Error(data.error?.message ?? `the server said ${response.status}`);
  }
  return response.json();
}

function loadDevices() {
  try {
    return JSON.parse(localStorage.getItem(DEVICES_KEY) ?? '{}');
  } catch {
    return {};
  }
}

function saveDevices(devices) {
  try { localStorage.setItem(DEVICES_KEY, JSON.stringify(devices)); } catch { /* full */ }
}

const root = document.getElementById('room-app');
if (root) new RoomPage(root).start();
