/**
 * Snapshots on the page: a "Read a card" switch on each remote tile (then a click asks
 * for the region around it, a drag for a rectangle), the zoom panel, the strip of
 * recent snapshots, the "let others take snapshots" switch and the notices. The
 * protocol is snapshot.js; this module owns these elements and nothing else.
 * @module snapshot-ui
 */
import { FaceCamUI } from './facecam-ui.js';
import { SNAPSHOT_ERRORS, SnapshotService, clickRegion } from './snapshot.js';
import { ViewSizes } from './viewsize.js';

const ALLOWED_KEY = 'rhystic:snapshots';
const STRIP_SIZE = 8;
const DRAG_PX = 8;

/** @typedef {import('./snapshot.js').Snapshot} Snapshot */

/**
 * Readable cards on the call page: snapshots, each tile's size told to its sender
 * (viewsize.js) so that the link carries what the tile can show, and the second
 * camera (facecam-ui.js).
 * @param {import('./webrtc.js').WebRTCClient} webrtc
 * @param {(peerId: string) => ?string} peerName
 * @returns {SnapshotUI}
 */
export function wireSnapshots(webrtc, peerName) {
  const grid = document.getElementById('grid');
  const controls = document.querySelector('#call .controls');
  const sizes = new ViewSizes(grid, (peerId, view) => webrtc.links.get(peerId)?.setView(view));
  webrtc.on('peer-link', (peerId, peerLink, link) => link.setView(sizes.get(peerId)));
  const snapshots = new SnapshotUI({
    call: document.getElementById('call'), grid, controls, webrtc, peerName,
  });
  new FaceCamUI({
    grid, controls, webrtc, roomId: document.getElementById('room-app')?.dataset.roomId ?? '',
    onError: (message) => snapshots.notify(message, 'error'),
  });
  return snapshots;
}

export class SnapshotUI {
  /**
   * @param {{call: HTMLElement, grid: HTMLElement, controls: HTMLElement,
   *          webrtc: import('./webrtc.js').WebRTCClient,
   *          peerName: (peerId: string) => ?string}} options
   */
  constructor({ call, grid, controls, webrtc, peerName }) {
    this.grid = grid;
    this.peerName = (peerId) => (peerId === webrtc.selfId ? 'You' : peerName(peerId) ?? 'A player');
    this.allowed = localStorage.getItem(ALLOWED_KEY) !== 'off';
    this.service = new SnapshotService({
      tableTrack: () => webrtc.localStream?.getVideoTracks()[0] ?? null,
      allowed: () => this.allowed,
    });
    webrtc.on('peer-link', (peerId, peerLink) => this.service.attach(peerId, peerLink));
    webrtc.on('link-closed', (peerId) => this.service.detach(peerId));
    this.service.on('taken', (peerId) =>
      this.notify(`${this.peerName(peerId)} took a snapshot of your table.`, 'taken'));
    this.service.on('shared', (shot) => {
      this.addToStrip(shot);
      this.notify(`${this.peerName(shot.from)} shared a snapshot of ${this.tableOf(shot.of)}.`,
        'shared');
    });
    /** @type {Snapshot[]} */
    this.recent = [];
    this._build(call, controls);
    new MutationObserver(() => this._addTools()).observe(grid, { childList: true });
    this._addTools();
    this._wirePointer();
  }

  /** @param {string} peerId @returns {string} "Alice's table" */
  tableOf(peerId) {
    const name = this.peerName(peerId);
    return name === 'You' ? 'your table' : `${name}'s table`;
  }

  _build(call, controls) {
    // A second join attempt on the same page builds anew: no doubles.
    call.querySelectorAll('.snapshot-allow, .snapshot-toast, .snapshot-strip, .snapshot-panel')
      .forEach((node) => node.remove());
    const label = el('label', 'control snapshot-allow');
    this.allowBox = el('input');
    this.allowBox.type = 'checkbox';
    this.allowBox.id = 'snapshot-allow';
    this.allowBox.checked = this.allowed;
    this.allowBox.addEventListener('change', () => {
      this.allowed = this.allowBox.checked;
      localStorage.setItem(ALLOWED_KEY, this.allowed ? 'on' : 'off');
    });
    // Short, so that it fits a phone's control row; the tooltip says it in full.
    label.title = 'Let others take snapshots of my table: a sharp picture of a card they click';
    label.append(this.allowBox, text('span', 'Allow snapshots'));
    controls.append(label);

    this.toast = el('p', 'snapshot-toast');
    this.toast.setAttribute('role', 'status');
    this.toast.hidden = true;
    this.strip = el('div', 'snapshot-strip');
    this.strip.setAttribute('aria-label', 'Recent snapshots');
    this.strip.hidden = true;
    this.panel = this._buildPanel();
    call.append(this.toast, this.strip, this.panel);
  }

  _buildPanel() {
    const panel = el('dialog', 'snapshot-panel');
    panel.setAttribute('aria-label', 'Snapshot');
    const bar = el('div', 'snapshot-bar');
    this.title = text('h2', '');
    const button = (cls, label, action) => {
      const b = text('button', label);
      b.type = 'button';
      b.className = `control ${cls}`;
      b.addEventListener('click', action);
      bar.append(b);
      return b;
    };
    bar.append(this.title);
    button('snapshot-zoom-in', 'Zoom in', () => this._zoom(1.5));
    button('snapshot-zoom-out', 'Zoom out', () => this._zoom(1 / 1.5));
    button('snapshot-rotate', 'Rotate', () => { this.view.rotate = (this.view.rotate + 90) % 360; this._place(); });
    this.shareButton = button('snapshot-share', 'Share with the room', () => this._share());
    button('snapshot-close', 'Close', () => panel.close());
    this.viewport = el('div', 'snapshot-viewport');
    this.canvas = el('canvas', 'snapshot-image');
    this.viewport.append(this.canvas);
    panel.append(bar, this.viewport);
    this.viewport.addEventListener('wheel', (event) => {
      event.preventDefault();
      this._zoom(event.deltaY < 0 ? 1.2 : 1 / 1.2);
    }, { passive: false });
    let drag = null;
    this.viewport.addEventListener('pointerdown', (e) => {
      drag = { x: e.clientX - this.view.x, y: e.clientY - this.view.y };
      this.viewport.setPointerCapture(e.pointerId);
    });
    this.viewport.addEventListener('pointermove', (e) => {
      if (!drag) return;
      this.view.x = e.clientX - drag.x;
      this.view.y = e.clientY - drag.y;
      this._place();
    });
    this.viewport.addEventListener('pointerup', () => { drag = null; });
    this.view = { zoom: 1, rotate: 0, x: 0, y: 0 };
    return panel;
  }

  /** A "Read a card" switch on every remote tile that has none yet. */
  _addTools() {
    for (const tile of this.grid.querySelectorAll('.tile.remote')) {
      const tools = tile.querySelector('.tile-tools');
      if (!tools || tools.querySelector('.tool-snapshot')) continue;
      const button = el('button', 'tool tool-snapshot');
      button.type = 'button';
      button.setAttribute('aria-pressed', 'false');
      button.setAttribute('aria-label', 'Read a card');
      button.title = 'Read a card: then click a card (or drag around it) to see it sharp';
      button.append(magnifier());
      button.addEventListener('click', () => {
        const on = button.getAttribute('aria-pressed') !== 'true';
        button.setAttribute('aria-pressed', String(on));
        tile.classList.toggle('snapshot-armed', on);
      });
      tools.prepend(button);
    }
  }

  /** On an armed tile a click or drag asks for a snapshot, and does not spotlight. */
  _wirePointer() {
    let start = null;
    const armed = (event) => event.target.closest?.('.tile.snapshot-armed .tile-media');
    this.grid.addEventListener('pointerdown', (event) => {
      if (armed(event)) start = { x: event.clientX, y: event.clientY };
    }, true);
    this.grid.addEventListener('click', (event) => {
      const media = armed(event);
      if (!media) return;
      event.stopPropagation();
      const from = start ?? { x: event.clientX, y: event.clientY };
      start = null;
      this.ask(media.closest('.tile'), from, { x: event.clientX, y: event.clientY });
    }, true);
  }

  /**
   * Ask a tile's player for the region under a click (from = to) or a drag.
   * @param {HTMLElement} tile
   * @param {{x: number, y: number}} from client coordinates
   * @param {{x: number, y: number}} to
   */
  async ask(tile, from, to) {
    const video = tile.querySelector('video');
    const peerId = tile.dataset.peerId;
    if (!video?.videoWidth) return;
    const a = pointOnSource(video, from.x, from.y);
    let region;
    if (Math.hypot(to.x - from.x, to.y - from.y) < DRAG_PX) {
      if (a.x < 0 || a.x > 1 || a.y < 0 || a.y > 1) return;  // beside the picture
      region = clickRegion(a, video.videoWidth / video.videoHeight);
    } else {
      region = dragRegion(a, pointOnSource(video, to.x, to.y));
      if (!region) return;
    }
    const clicked = performance.now();
    tile.dataset.snapshot = 'waiting';
    try {
      const shot = await this.service.request(peerId, region);
      await this.open(shot);
      this.addToStrip(shot);
      // Where the time went, for the benchmark: in all, to the last chunk, at the sender.
      this.panel.dataset.arrivedMs = String(Math.round(shot.ms));
      this.panel.dataset.senderMs = String(shot.senderMs ?? '');
      this.panel.dataset.ms = String(Math.round(performance.now() - clicked));
      tile.dataset.snapshot = 'shown';
    } catch (error) {
      tile.dataset.snapshot = 'refused';
      const why = SNAPSHOT_ERRORS[error.code] ?? error.message;
      this.notify(`${this.peerName(peerId)} ${why}.`, 'error', error.code);
    }
  }

  /** @param {Snapshot} shot show it in the zoom panel */
  async open(shot) {
    const bitmap = await createImageBitmap(shot.blob);
    this.canvas.width = bitmap.width;
    this.canvas.height = bitmap.height;
    this.canvas.getContext('2d').drawImage(bitmap, 0, 0);
    bitmap.close();
    this.current = shot;
    this.title.textContent = this.tableOf(shot.of);
    this.shareButton.disabled = false;
    this.shareButton.textContent = 'Share with the room';
    this.panel.dataset.of = shot.of;
    this.view = { zoom: 1, rotate: 0, x: 0, y: 0 };
    this._place();
    if (!this.panel.open) this.panel.showModal();
  }

  /** @param {Snapshot} shot */
  addToStrip(shot) {
    if (this.recent.some((s) => s.id === shot.id && s.of === shot.of)) return;
    this.recent.unshift(shot);
    this.recent.length = Math.min(this.recent.length, STRIP_SIZE);
    const item = el('button', 'snapshot-thumb');
    item.type = 'button';
    item.setAttribute('aria-label', `Snapshot of ${this.tableOf(shot.of)}`);
    const thumb = el('canvas');
    createImageBitmap(shot.blob, { resizeHeight: 72, resizeQuality: 'medium' }).then((b) => {
      thumb.width = b.width;
      thumb.height = b.height;
      thumb.getContext('2d').drawImage(b, 0, 0);
      b.close();
    }).catch(() => {});
    item.append(thumb);
    item.addEventListener('click', () => this.open(shot));
    this.strip.prepend(item);
    while (this.strip.children.length > STRIP_SIZE) this.strip.lastElementChild.remove();
    this.strip.hidden = false;
  }

  _share() {
    if (!this.current) return;
    this.service.share(this.current);
    this.addToStrip(this.current);
    this.shareButton.disabled = true;
    this.shareButton.textContent = 'Shared';
  }

  _zoom(factor) {
    this.view.zoom = Math.min(16, Math.max(0.25, this.view.zoom * factor));
    this._place();
  }

  _place() {
    const { x, y, zoom, rotate } = this.view;
    this.canvas.style.transform = `translate(${x}px, ${y}px) scale(${zoom}) rotate(${rotate}deg)`;
  }

  /** @param {string} message @param {string} kind @param {string} [code] */
  notify(message, kind, code = '') {
    this.toast.textContent = message;
    this.toast.dataset.kind = kind;
    this.toast.dataset.code = code;
    this.toast.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { this.toast.hidden = true; }, 4000);
  }
}

/**
 * Where a point on the screen falls on the source frame, normalised: the tile's
 * rotation, flip and any zoom (the video's CSS transform) undone, then the letterbox
 * of object-fit: contain. Outside [0, 1] when the point is beside the picture.
 * @param {HTMLVideoElement} video
 * @param {number} clientX @param {number} clientY
 * @returns {{x: number, y: number}}
 */
export function pointOnSource(video, clientX, clientY) {
  const box = video.getBoundingClientRect();
  const transform = getComputedStyle(video).transform;
  const m = transform && transform !== 'none' ? new DOMMatrix(transform) : new DOMMatrix();
  // The transform's translation only moves the centre, which the box already gives.
  const linear = new DOMMatrix([m.a, m.b, m.c, m.d, 0, 0]).inverse();
  const p = linear.transformPoint(new DOMPoint(clientX - (box.left + box.width / 2),
    clientY - (box.top + box.height / 2)));
  const fit = Math.min(video.offsetWidth / video.videoWidth,
    video.offsetHeight / video.videoHeight);
  return { x: 0.5 + p.x / (video.videoWidth * fit), y: 0.5 + p.y / (video.videoHeight * fit) };
}

/** @returns {?import('./snapshot.js').Region} the rectangle between two points, clipped */
function dragRegion(a, b) {
  const clip = (v) => Math.min(1, Math.max(0, v));
  const x = clip(Math.min(a.x, b.x));
  const y = clip(Math.min(a.y, b.y));
  const w = clip(Math.max(a.x, b.x)) - x;
  const h = clip(Math.max(a.y, b.y)) - y;
  return w > 0.005 && h > 0.005 ? { x, y, w, h } : null;
}

/** @returns {SVGElement} the tool's icon: a magnifying glass */
function magnifier() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', 'M10 3a7 7 0 0 1 5.6 11.2l5.1 5.1-1.4 1.4-5.1-5.1A7 7 0 1 1 10 3zm0 '
    + '2a5 5 0 1 0 0 10 5 5 0 0 0 0-10z');
  svg.append(path);
  return svg;
}

function el(tag, className = '') {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

function text(tag, content) {
  const node = document.createElement(tag);
  node.textContent = content;
  return node;
}
