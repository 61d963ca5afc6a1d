/**
 * The room page before joining: the camera preview, the device lists, the microphone
 * meter and sound check, who is already seated, the seat count (kept fresh by
 * seatwatch.js) and the join form. It hands the chosen name and stream to the call
 * (ui.js) through `enter`.
 * @module lobby
 */
import { describeMediaError, listDevices, openLocalMedia } from './media.js';
import { SeatWatch } from './seatwatch.js';
import { MicMeter, soundCheck } from './soundcheck.js';

const DEVICES_KEY = 'rhystic:devices';
const VOICE_KEY = 'rhystic:voice-elsewhere';

/** @param {string} id @returns {any} */
const $ = (id) => document.getElementById(id);

export class Lobby {
  /**
   * @param {HTMLElement} root the #room-app element, whose data-* describe the room
   * @param {{capture: import('./media.js').Capture,
   *          isMirrored: (stream: ?MediaStream) => boolean,
   *          enter: (name: string) => Promise<void>}} options
   *   enter joins the call with this.stream; it throws an error with a `code` when refused.
   */
  constructor(root, { capture, isMirrored, enter }) {
    const data = root.dataset;
    this.root = root;
    this.roomId = data.roomId;
    this.maxPeers = Number(data.maxPeers);
    this.signedIn = data.signedIn === '1';
    this.displayName = data.displayName;
    this.capture = capture;
    this.isMirrored = isMirrored;
    this.enter = enter;
    /** @type {?MediaStream} */
    this.stream = null;
    this.devices = loadDevices();
    this.voiceElsewhere = loadFlag(VOICE_KEY);
    this.full = $('lobby').dataset.full === '1';
    this.title = document.title;
    this.meter = new MicMeter($('mic-meter'));
    this.seats = new SeatWatch(this.roomId, (seats) => this.showSeats(seats));
  }

  start() {
    $('join-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.join();
    });
    $('retry-button').addEventListener('click', () => this.seats.check());
    $('camera-select').addEventListener('change', (e) => this.pickDevice('cameraId', e));
    $('mic-select').addEventListener('change', (e) => this.pickDevice('micId', e));
    $('voice-elsewhere').checked = this.voiceElsewhere;
    $('voice-elsewhere').addEventListener('change', (e) => this.setVoiceElsewhere(e.target.checked));
    $('sound-check').addEventListener('click', () => this.runSoundCheck());
    document.addEventListener('pointerdown', () => this.resumeMeter());
    document.addEventListener('keydown', () => this.resumeMeter());
    this.renderVoice();
    this.seats.start();
    if (!window.isSecureContext || !navigator.mediaDevices) {
      this.showInsecure();
      return;
    }
    if (!this.full) this.openPreview();
  }

  /** Open (or reopen) the preview; join() waits for the one in flight. */
  openPreview() {
    this.previewReady = (this.previewReady ?? Promise.resolve())
      .catch(() => {}).then(() => this._openPreview());
    return this.previewReady;
  }

  async _openPreview() {
    this.closePreview();
    if (!navigator.mediaDevices) return;
    $('preview-status').textContent = 'Opening your camera…';
    $('preview-status').hidden = false;
    const { stream, error } = await openLocalMedia({
      ...this.devices, capture: this.capture, audio: !this.voiceElsewhere,
    });
    this.stream = stream;
    $('preview').srcObject = stream;
    $('preview').classList.toggle('mirrored', this.isMirrored(stream));
    const status = $('preview-status');
    status.textContent = error ? describeMediaError(error)
      : stream.getVideoTracks().length ? '' : 'No camera: you can still watch and talk.';
    status.hidden = !status.textContent;
    this.meter.attach(stream);
    this.renderMeterHint();
    await this.fillDeviceLists();
  }

  /** Let the camera go (a full room, a reopen): its light should not stay on for nothing. */
  closePreview() {
    this.meter.detach();
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
  }

  async fillDeviceLists() {
    const { cameras, mics } = await listDevices();
    const camera = this.stream?.getVideoTracks()[0]?.getSettings().deviceId;
    const mic = this.stream?.getAudioTracks()[0]?.getSettings().deviceId;
    for (const id of ['camera-select', 'call-camera-select']) fillSelect($(id), cameras, camera, 'Camera');
    for (const id of ['mic-select', 'call-mic-select']) fillSelect($(id), mics, mic, 'Microphone');
  }

  /** @param {'cameraId'|'micId'} key @param {Event} event */
  pickDevice(key, event) {
    this.devices[key] = event.target.value || null;
    saveDevices(this.devices);
    this.openPreview();
  }

  // -- voice and sound ------------------------------------------------------------

  /** "My voice is elsewhere": no microphone opened at all, remembered on this device. */
  setVoiceElsewhere(on) {
    this.voiceElsewhere = on;
    saveFlag(VOICE_KEY, on);
    this.renderVoice();
    if (!this.full && window.isSecureContext) this.openPreview();
  }

  renderVoice() {
    $('lobby').dataset.voice = this.voiceElsewhere ? 'elsewhere' : 'here';
    $('mic-field').hidden = this.voiceElsewhere;
    $('sound-tools').hidden = this.voiceElsewhere;
    $('voice-note').hidden = !this.voiceElsewhere;
  }

  resumeMeter() {
    this.meter.resume();
    setTimeout(() => this.renderMeterHint(), 100);
  }

  renderMeterHint() {
    $('meter-hint').hidden = !this.meter.suspended;
  }

  async runSoundCheck() {
    const button = $('sound-check');
    const status = $('sound-status');
    button.disabled = true;
    try {
      await soundCheck(this.stream ?? new MediaStream(), (phase, detail) => {
        status.dataset.phase = phase;
        if (detail) status.dataset.bytes = String(detail.bytes);
        status.textContent = {
          recording: 'Recording 3 seconds: say something…',
          playing: 'Playing it back: this is what the others hear.',
          done: 'Sound check done. Run it again after changing the microphone.',
        }[phase];
      });
    } catch (error) {
      status.dataset.phase = 'error';
      status.textContent = error.message || String(error);
    } finally {
      button.disabled = false;
    }
  }

  // -- seats --------------------------------------------------------------------

  /** @param {import('./seatwatch.js').Seats} seats */
  showSeats({ peer_count: taken, max_peers: max, players }) {
    this.maxPeers = max;
    const full = taken >= max;
    $('seats').textContent = full ? `All ${max} seats are taken` : `${max - taken} of ${max} seats free`;
    $('seated').textContent = players.length ? `At the table: ${players.join(', ')}`
      : 'Nobody is at the table yet.';
    this.showFull(full);
  }

  /** @param {boolean} full */
  showFull(full) {
    const freed = this.full && !full;
    this.full = full;
    $('lobby').dataset.full = full ? '1' : '0';
    $('full-notice').hidden = !full;
    $('join-button').disabled = full;
    $('retry-button').hidden = !full;
    if (full) $('seat-free').hidden = true;
    else if (freed) $('seat-free').hidden = false;
    document.title = freed ? `Seat free · ${this.title}` : this.title;
    if (full) this.closePreview();
    else if (!this.stream && window.isSecureContext) this.openPreview();
  }

  showInsecure() {
    $('insecure-notice').hidden = false;
    $('lobby').dataset.insecure = '1';
    this.stream = new MediaStream();  // joining still works: watch, without a camera
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
      await (this.previewReady ?? Promise.resolve());
      this.stream ??= new MediaStream();
      this.seats.stop();
      this.meter.close();
      document.title = this.title;
      await this.enter(name);
    } catch (error) {
      $('join-button').disabled = false;
      this.seats.start();
      if (!this.voiceElsewhere) this.meter.attach(this.stream);
      if (error.code === 'room_full') {
        this.showFull(true);
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

/** Remember the chosen camera and microphone for the next visit (the call saves too). */
export function saveDevices(devices) {
  try { localStorage.setItem(DEVICES_KEY, JSON.stringify(devices)); } catch { /* full */ }
}

function loadFlag(key) {
  try { return localStorage.getItem(key) === '1'; } catch { return false; }
}

function saveFlag(key, on) {
  try { localStorage.setItem(key, on ? '1' : '0'); } catch { /* full */ }
}
