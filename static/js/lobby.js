/**
 * The room page before joining: the camera preview, the device lists, the seat count and
 * the join form. It hands the chosen name and stream to the call (ui.js) through `enter`.
 * @module lobby
 */
import { describeMediaError, listDevices, openLocalMedia } from './media.js';

const DEVICES_KEY = 'rhystic:devices';

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
  }

  start() {
    $('join-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.join();
    });
    $('retry-button').addEventListener('click', () => this.checkSeats());
    $('camera-select').addEventListener('change', (e) => this.pickDevice('cameraId', e));
    $('mic-select').addEventListener('change', (e) => this.pickDevice('micId', e));
    if (!$('join-button').disabled) this.openPreview();
  }

  /** Open (or reopen) the preview; join() waits for the one in flight. */
  openPreview() {
    this.previewReady = (this.previewReady ?? Promise.resolve())
      .catch(() => {}).then(() => this._openPreview());
    return this.previewReady;
  }

  async _openPreview() {
    this.stream?.getTracks().forEach((track) => track.stop());
    const { stream, error } = await openLocalMedia({ ...this.devices, capture: this.capture });
    this.stream = stream;
    $('preview').srcObject = stream;
    $('preview').classList.toggle('mirrored', this.isMirrored(stream));
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
  pickDevice(key, event) {
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
      await this.enter(name);
    } catch (error) {
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
