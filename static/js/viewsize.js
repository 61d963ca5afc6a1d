/**
 * How large this page shows each remote table, in device pixels, and whether it is
 * looked at closely (spotlight, full screen, zoom): the hint each sender needs to
 * scale its link to us (bandwidth.js, docs/protocol.md §9 `view`). It watches the
 * tiles the grid holds (by `data-peer-id`), so tiles.js needs no part in it.
 * @module viewsize
 */

/** @typedef {import('./peerlink.js').ViewHint} ViewHint */

/** Say a new size only when it moved by more than this fraction (layouts jitter). */
const CHANGE = 0.1;
const SETTLE_MS = 250;

export class ViewSizes {
  /**
   * @param {HTMLElement} grid the tiles' container
   * @param {(peerId: string, view: ViewHint) => void} onChange
   */
  constructor(grid, onChange) {
    this.grid = grid;
    this.onChange = onChange;
    /** @type {Map<string, ViewHint>} what we last said, per peer */
    this.views = new Map();
    this.timer = null;
    this.resizes = new ResizeObserver(() => this.schedule());
    this.changes = new MutationObserver(() => {
      this._observeTiles();
      this.schedule();
    });
    this.changes.observe(grid, { childList: true, subtree: true, attributes: true,
      attributeFilter: ['class', 'data-rotate', 'style'] });
    document.addEventListener('fullscreenchange', () => this.schedule());
    globalThis.addEventListener('resize', () => this.schedule());
    this._observeTiles();
    this.schedule();
  }

  /** @param {string} peerId @returns {?ViewHint} */
  get(peerId) {
    return this.views.get(peerId) ?? null;
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.measure(), SETTLE_MS);
  }

  _observeTiles() {
    for (const video of this.grid.querySelectorAll('.tile.remote video')) {
      if (video.dataset.sized) continue;
      video.dataset.sized = '1';
      this.resizes.observe(video);
      video.addEventListener('resize', () => this.schedule());  // a new frame size
    }
  }

  /** Measure every remote tile and tell of those that changed. */
  measure() {
    for (const tile of this.grid.querySelectorAll('.tile.remote[data-peer-id]')) {
      const view = measureTile(tile);
      const peerId = tile.dataset.peerId;
      if (!view || same(this.views.get(peerId), view)) continue;
      this.views.set(peerId, view);
      this.onChange(peerId, view);
    }
  }
}

/**
 * The picture's size on screen in device pixels, in the source's own orientation: the
 * video element's layout box (rotation swaps it already), fitted to the frame's aspect
 * as object-fit: contain does, times the device pixel ratio.
 * @param {HTMLElement} tile
 * @returns {?ViewHint}
 */
export function measureTile(tile) {
  const video = tile.querySelector('video');
  if (!video) return null;
  const boxW = video.offsetWidth;
  const boxH = video.offsetHeight;
  if (!boxW || !boxH) return null;
  let width = boxW;
  let height = boxH;
  if (video.videoWidth && video.videoHeight) {
    const fit = Math.min(boxW / video.videoWidth, boxH / video.videoHeight);
    width = video.videoWidth * fit;
    height = video.videoHeight * fit;
  }
  const ratio = globalThis.devicePixelRatio || 1;
  const full = document.fullscreenElement;
  return {
    width: Math.round(width * ratio),
    height: Math.round(height * ratio),
    spotlight: tile.classList.contains('spotlight'),
    fullscreen: Boolean(full && (full === tile || tile.contains(full))),
    zoom: transformScale(video),
    // The viewer swapped the second camera big (facecam-ui.js): send that one larger.
    face_big: tile.classList.contains('face-big'),
  };
}

/** @param {HTMLElement} el @returns {number} the scale in its CSS transform, at least 1 */
function transformScale(el) {
  const transform = getComputedStyle(el).transform;
  if (!transform || transform === 'none') return 1;
  const m = new DOMMatrix(transform);
  return Math.max(1, Math.round(Math.hypot(m.a, m.b) * 100) / 100);
}

/** @param {?ViewHint} a @param {ViewHint} b */
function same(a, b) {
  if (!a) return false;
  const near = (x, y) => Math.abs(x - y) <= CHANGE * Math.max(x, y);
  return a.spotlight === b.spotlight && a.fullscreen === b.fullscreen && a.zoom === b.zoom
    && a.face_big === b.face_big
    && near(a.width, b.width) && near(a.height, b.height);
}
