/**
 * The second camera on the page: the "Second camera" choice in the controls (sent as
 * a second track, facecam.js), and on each remote tile the other player's second
 * camera as an inset, with "Swap cameras" and "Hide the inset". Each viewer's choice
 * is kept per room and player name.
 * @module facecam-ui
 */
import { FACE_CAPTURE } from './facecam.js';
import { describeMediaError, listDevices, openTrack } from './media.js';

const DEVICE_KEY = 'rhystic:second-camera';

export class FaceCamUI {
  /**
   * @param {{grid: HTMLElement, controls: HTMLElement, roomId: string,
   *          webrtc: import('./webrtc.js').WebRTCClient,
   *          onError: (message: string) => void}} options
   */
  constructor({ grid, controls, roomId, webrtc, onError }) {
    this.grid = grid;
    this.webrtc = webrtc;
    this.onError = onError;
    this.prefsKey = `rhystic:faces:${roomId}`;
    /** @type {Map<string, MediaStream>} each peer's second camera */
    this.faces = new Map();
    this.track = null;
    webrtc.on('face', (peerId, stream) => {
      this.faces.set(peerId, stream);
      this._render();
    });
    webrtc.on('link-closed', (peerId) => this.faces.delete(peerId));
    new MutationObserver(() => this._render()).observe(grid, { childList: true });
    this._buildChoice(controls);
  }

  async _buildChoice(controls) {
    controls.querySelector('.facecam-choice')?.remove();
    const label = document.createElement('label');
    label.className = 'control control-select facecam-choice';
    const name = document.createElement('span');
    name.className = 'control-label';
    name.textContent = 'Second camera';
    this.select = document.createElement('select');
    this.select.id = 'second-camera-select';
    this.select.setAttribute('aria-label', 'Second camera (your face or hands)');
    label.append(name, this.select);
    controls.append(label);
    this.select.addEventListener('change', () => this.choose(this.select.value || null));
    const { cameras } = await listDevices();
    const none = new Option('None', '');
    this.select.replaceChildren(none, ...cameras.map((c, i) =>
      new Option(c.label || `Camera ${i + 1}`, c.deviceId)));
    const saved = localStorage.getItem(DEVICE_KEY);
    if (saved && cameras.some((c) => c.deviceId === saved)) {
      this.select.value = saved;
      this.choose(saved);
    }
  }

  /** @param {?string} deviceId a camera to send as the second one, or none */
  async choose(deviceId) {
    const old = this.track;
    try {
      this.track = deviceId ? await openTrack('video', deviceId, FACE_CAPTURE) : null;
    } catch (error) {
      this.onError(describeMediaError(error));
      return;
    }
    if (this.track) this.track.contentHint = 'motion';  // a face: smooth beats sharp
    this.webrtc.setFaceTrack(this.track);
    old?.stop();
    localStorage.setItem(DEVICE_KEY, deviceId ?? '');
  }

  /** Every remote tile with a second camera gets its inset and tools. */
  _render() {
    for (const [peerId, stream] of this.faces) {
      const tile = this.grid.querySelector(`.tile.remote[data-peer-id="${CSS.escape(peerId)}"]`);
      if (!tile) continue;
      let inset = tile.querySelector('video.tile-face');
      if (!inset) inset = this._addInset(tile);
      if (inset.srcObject !== stream) {
        inset.srcObject = stream;
        inset.play().catch(() => {});
      }
    }
  }

  _addInset(tile) {
    const inset = document.createElement('video');
    inset.className = 'tile-face';
    inset.muted = true;
    inset.playsInline = true;
    inset.autoplay = true;
    tile.querySelector('.tile-media').append(inset);
    const tools = tile.querySelector('.tile-tools');
    const choice = this._pref(tile.dataset.name);
    tile.classList.toggle('face-big', choice.big);
    tile.classList.toggle('face-hidden', choice.hidden);
    tools.prepend(
      this._tool(tile, 'tool-swap', 'Swap cameras', 'face-big', 'big'),
      this._tool(tile, 'tool-inset', 'Hide the small camera', 'face-hidden', 'hidden'));
    return inset;
  }

  _tool(tile, cls, label, tileClass, key) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = `tool ${cls}`;
    button.setAttribute('aria-label', label);
    button.title = label;
    button.textContent = key === 'big' ? '⇄' : '▣';
    button.setAttribute('aria-pressed', String(tile.classList.contains(tileClass)));
    button.addEventListener('click', () => {
      const on = tile.classList.toggle(tileClass);
      button.setAttribute('aria-pressed', String(on));
      this._setPref(tile.dataset.name, { [key]: on });
    });
    return button;
  }

  _pref(name) {
    try {
      const all = JSON.parse(localStorage.getItem(this.prefsKey) ?? '{}');
      return { big: false, hidden: false, ...(all[name] ?? {}) };
    } catch {
      return { big: false, hidden: false };
    }
  }

  _setPref(name, change) {
    try {
      const all = JSON.parse(localStorage.getItem(this.prefsKey) ?? '{}');
      all[name] = { ...this._pref(name), ...change };
      localStorage.setItem(this.prefsKey, JSON.stringify(all));
    } catch { /* storage full or off: the choice lasts this visit */ }
  }
}
