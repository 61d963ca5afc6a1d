/**
 * The room page: the call and its controls, after the lobby (lobby.js) hands over.
 * Everything page-specific lives here; the library modules know nothing of the DOM.
 * @module ui
 */
import { GameUI } from './game-ui.js';
import { HostingUI } from './hosting-ui.js';
import { Lobby, saveDevices } from './lobby.js';
import { describeMediaError, openTrack } from './media.js';
import { RoomClient } from './room.js';
import { CallShortcuts } from './shortcuts.js';
import { SignalingClient } from './signaling.js';
import { wireSnapshots } from './snapshot-ui.js';
import { CameraViews, cameraOf } from './tileprefs.js';
import { TileGrid, ViewPrefs } from './tiles.js';
import { WaitingCard } from './waiting.js';
import { WebRTCClient } from './webrtc.js';

/** @param {string} id @returns {any} */
const $ = (id) => document.getElementById(id);

class RoomPage {
  /** @param {HTMLElement} root */
  constructor(root) {
    const data = root.dataset;
    this.root = root;
    this.roomId = data.roomId;
    this.maxPeers = Number(data.maxPeers);
    this.capture = {
      width: Number(data.captureWidth), height: Number(data.captureHeight),
      fps: Number(data.captureFps),
    };
    /** @type {?MediaStream} */
    this.stream = null;
    this.room = null;
    /** How each of our cameras is shown to us: never mirrored unless we chose it. */
    this.cameras = new CameraViews();
    this.lobby = new Lobby(root, {
      capture: this.capture, enter: (name) => this.enter(name),
      isMirrored: (stream) => this.cameras.view(cameraOf(stream)).flip,
    });
    this.devices = this.lobby.devices;
  }

  start() {
    this.lobby.start();
  }

  /** The lobby's Join: take its stream, knock if the room is locked, then connect. */
  async enter(name) {
    this.stream = this.lobby.stream;
    try {
      this.hosting ??= new HostingUI(this.root);  // a locked room: knock, and wait at the door
      await this.hosting.enter(() => this.connect(name), { roomId: this.roomId, displayName: name });
    } catch (error) {
      this.room = null;
      throw error;
    }
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
    await room.joinRoom(this.roomId, {
      displayName: name, stream: this.stream, voiceElsewhere: this.lobby.voiceElsewhere,
    });
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
      cameras: this.cameras, expectedFps: this.capture.fps,
      aspect: this.capture.width / this.capture.height,
    });
    webrtc.onTrack = (stream, peerId) => this.tiles.setStream(peerId, stream);
    webrtc.on('link-state', (peerId, state) => this.tiles.setLinkState(peerId, state));
    webrtc.on('stats', (peerId, stats) => this.tiles.setStats(peerId, stats));
    wireSnapshots(webrtc, (peerId) => room.peers.get(peerId)?.display_name);  // issue 12
    room.on('welcome', (welcome) => {
      if (!this.tiles.tiles.has(welcome.peer_id)) {
        for (const [id, tile] of this.tiles.tiles) if (tile.peer.self) this.tiles.remove(id);
        this.tiles.addSelf(welcome.self, this.stream, cameraOf(this.stream));
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
      } else if (error.code === 'signed_out') {
        // Sign out everywhere: this browser's session is over too, so a rejoin would fail.
        this.showLeft('Your account was signed out on every device. Sign in again to play.',
          'You signed out on another device', { rejoin: false });
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
    this.shortcuts ??= new CallShortcuts(this.root, {
      m: () => this.toggle('audio'), v: () => this.toggle('video'),
      f: () => toggleFullscreen($('stage')),
    });
    document.addEventListener('click', () => {
      if (this.clearBanner('sound')) this.tiles.unmuteAll();
    });
    this.renderControls();
  }

  updateSeats() {
    const taken = (this.room?.peers.size ?? 0) + 1;
    $('call-seats').textContent = `${taken} of ${this.maxPeers} seats`;
    // Alone at the table: "Waiting for others", with the invite (waiting.js, issue 10).
    this.waiting ??= new WaitingCard($('stage'), `${location.origin}/r/${this.roomId}`);
    this.waiting.update(taken - 1);
  }

  /** @param {'audio'|'video'} kind */
  async toggle(kind) {
    if (kind === 'audio' && this.lobby.voiceElsewhere) return;  // no microphone to unmute
    const on = !(this.room.self?.media?.[kind] ?? true);
    await this.room.setMedia({ [kind]: on });
    this.tiles.upsert(this.room.self);
    this.renderControls();
  }

  renderControls() {
    const media = this.room.self?.media ?? { audio: true, video: true };
    setPressed($('mute-button'), !media.audio, media.audio ? 'Mute' : 'Unmute');
    $('mute-button').hidden = $('call-mic-select').parentElement.hidden = Boolean(media.voice_elsewhere);
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
        this.tiles.setSelfCamera(cameraOf(this.stream));
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

function setPressed(button, pressed, label) {
  button.setAttribute('aria-pressed', String(pressed));
  button.querySelector('.control-label').textContent = label;
}

function toggleFullscreen(element) {
  if (document.fullscreenElement) document.exitFullscreen();
  else element.requestFullscreen?.().catch(() => {});
}

const root = document.getElementById('room-app');
if (root) new RoomPage(root).start();
