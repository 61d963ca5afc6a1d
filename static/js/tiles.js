/**
 * The grid of tiles: one per player, with badges, link state and health, and the
 * viewer's own choices (spotlight, rotation, flip, own view size; tileprefs.js keeps
 * them). Where each tile goes is layout.js's geometry; this module measures and applies.
 * @module tiles
 */
import { layoutGrid, layoutSpotlight } from './layout.js';
import { describeHealth, linkHealth } from './linkhealth.js';
import { closeKick, wireKick } from './tilekick.js';
import { describe, formatRate, playerKey } from './tilewords.js';
import { CameraViews, SELF_SCALES, ViewPrefs } from './tileprefs.js';
import { showIdentity } from './identity-ui.js';

export { ViewPrefs };

/**
 * @typedef {import('./signaling.js').Peer} Peer
 * @typedef {import('./link.js').LinkState} LinkState
 * @typedef {import('./linkhealth.js').LinkStats} LinkStats
 * @typedef {import('./linkhealth.js').Health} Health
 * @typedef {import('./tileprefs.js').View} View
 * @typedef {{el: HTMLElement, peer: Peer & {self?: boolean}, link: ?LinkState,
 *            health: ?Health}} Tile
 */

const ROTATIONS = [0, 90, 180, 270];
/** Space between tiles, in px (the stage's own padding is CSS). */
const GAP = 10;
/** How long tile tools stay up after a tap on a touch screen. */
const TOUCH_TOOLS_MS = 4000;

/** The tiles on the page. */
export class TileGrid {
  /**
   * @param {{grid: HTMLElement, stage: HTMLElement, template: HTMLTemplateElement,
   *          prefs: ViewPrefs, onSpotlight: (peerId: ?string) => void,
   *          onSoundBlocked: () => void, onKick?: (peerId: string) => Promise<void>,
   *          cameras?: CameraViews, expectedFps?: number, aspect?: number}} options
   *   expectedFps: what the cameras capture (a link's frame rate is judged against it);
   *   aspect: a tile's shape until its video says otherwise
   */
  constructor({ grid, stage, template, prefs, onSpotlight, onSoundBlocked, onKick,
    cameras, expectedFps, aspect }) {
    this.grid = grid;
    this.stage = stage;
    this.template = template;
    this.prefs = prefs;
    this.cameras = cameras ?? new CameraViews();
    this.expectedFps = expectedFps || 30;
    this.defaultAspect = aspect || 4 / 3;
    this.onSpotlight = onSpotlight;
    this.onSoundBlocked = onSoundBlocked;
    this.onKick = onKick ?? (async () => {});
    /** Whether we may remove players: the room's creator may. */
    this.canKick = false;
    /** @type {Map<string, Tile>} */
    this.tiles = new Map();
    this.spotlightId = null;
    this._countdown = null;
    /** The camera behind the own tile: its flip and rotation are remembered per camera. */
    this.selfCamera = null;
    this._layoutFrame = 0;
    new ResizeObserver(() => this._layout()).observe(grid);
  }

  /**
   * @param {Peer} peer
   * @param {MediaStream} stream
   * @param {?string} camera the deviceId of the own camera
   */
  addSelf(peer, stream, camera) {
    const tile = this.upsert({ ...peer, self: true });
    tile.el.classList.add('self');
    this.setSelfCamera(camera);
    this.setStream(peer.peer_id, stream);
    this.setLinkState(peer.peer_id, { status: 'self', route: null, reason: null });
  }

  /** @param {?string} camera the own camera now showing (a switch mid-call) */
  setSelfCamera(camera) {
    this.selfCamera = camera;
    const self = this._self();
    if (self) this._applyView(self.el, this.cameras.view(camera));
  }

  /** @returns {?Tile} */
  _self() {
    return [...this.tiles.values()].find((t) => t.peer.self) ?? null;
  }

  /** @param {Peer & {self?: boolean}} peer @returns {Tile} */
  upsert(peer) {
    let tile = this.tiles.get(peer.peer_id);
    if (!tile) {
      tile = { el: this._build(peer), peer, link: null, health: null };
      this.tiles.set(peer.peer_id, tile);
      this.grid.append(tile.el);
      this._layout();
      if (!peer.self && this.prefs.spotlight === playerKey(peer)) this.spotlight(peer.peer_id);
    }
    tile.peer = { ...tile.peer, ...peer };
    this._render(tile);
    return tile;
  }

  /** @param {boolean} canKick show "Remove from room" on the others' tiles */
  setCanKick(canKick) {
    this.canKick = canKick;
    for (const tile of this.tiles.values()) {
      const tool = tile.el.querySelector('.tool-kick');
      if (tool) tool.hidden = !canKick;
      if (!canKick) closeKick(tile.el);
    }
  }

  /** @param {string} peerId */
  remove(peerId) {
    const tile = this.tiles.get(peerId);
    if (!tile) return;
    tile.el.remove();
    this.tiles.delete(peerId);
    if (this.spotlightId === peerId) this._applySpotlight(null);
    this._layout();
  }

  /** @param {string} peerId @param {MediaStream} stream */
  setStream(peerId, stream) {
    const tile = this.tiles.get(peerId);
    if (!tile) return;
    const video = tile.el.querySelector('video');
    if (video.srcObject !== stream) video.srcObject = stream;
    video.muted = Boolean(tile.peer.self);
    video.play().catch((error) => {
      if (error.name !== 'NotAllowedError') return;
      // No gesture yet: play silently, and ask for a click to turn the sound on.
      video.muted = true;
      video.play().catch(() => {});
      this.onSoundBlocked();
    });
    this._render(tile);
  }

  unmuteAll() {
    for (const tile of this.tiles.values()) {
      if (tile.peer.self) continue;
      const video = tile.el.querySelector('video');
      video.muted = false;
      video.play().catch(() => {});
    }
  }

  /** @param {string} peerId @param {LinkState} link */
  setLinkState(peerId, link) {
    const tile = this.tiles.get(peerId);
    if (!tile) return;
    tile.link = link;
    this._render(tile);
    if (link.retryAt && !this._countdown) {
      this._countdown = setInterval(() => this._tickCountdowns(), 1000);
    }
  }

  /** A failed link's "trying again in N s" counts down; the timer stops with the last. */
  _tickCountdowns() {
    const waiting = [...this.tiles.values()].filter((tile) => tile.link?.retryAt);
    for (const tile of waiting) this._render(tile);
    if (!waiting.length) {
      clearInterval(this._countdown);
      this._countdown = null;
    }
  }

  /** @param {string} peerId @param {LinkStats} stats */
  setStats(peerId, stats) {
    const tile = this.tiles.get(peerId);
    if (!tile) return;
    const parts = [];
    if (stats.rttMs != null) parts.push(`${stats.rttMs} ms`);
    if (stats.frameHeight) parts.push(`${stats.frameWidth}×${stats.frameHeight}`);
    if (stats.fps != null) parts.push(`${Math.round(stats.fps)} fps`);
    if (stats.kbps != null) parts.push(formatRate(stats.kbps));
    if (stats.loss) parts.push(`${Math.round(stats.loss * 100)}% lost`);
    tile.el.querySelector('.tile-quality').textContent = parts.join(' · ');
    tile.el.dataset.framesDecoded = String(stats.framesDecoded);
    if (stats.route) tile.el.dataset.route = stats.route;
    tile.health = linkHealth(stats, {
      expectedFps: this.expectedFps, videoExpected: tile.peer.media?.video !== false,
    });
    this._render(tile);
  }

  /** @param {?string} peerId spotlight this tile, or none */
  spotlight(peerId) {
    this._applySpotlight(peerId);
    const tile = peerId && this.tiles.get(peerId);
    this.prefs.spotlight = tile ? playerKey(tile.peer) : null;
  }

  _applySpotlight(peerId) {
    const previous = this.spotlightId && this.tiles.get(this.spotlightId);
    previous?.el.classList.remove('spotlight');
    previous?.el.querySelector('.tool-spotlight').setAttribute('aria-pressed', 'false');
    this.spotlightId = peerId && this.tiles.has(peerId) ? peerId : null;
    const tile = this.spotlightId && this.tiles.get(this.spotlightId);
    tile?.el.classList.add('spotlight');
    tile?.el.querySelector('.tool-spotlight').setAttribute('aria-pressed', 'true');
    this.stage.classList.toggle('has-spotlight', Boolean(tile));
    this._layout();
    this.onSpotlight(tile && !tile.peer.self ? this.spotlightId : null);
  }

  /** @param {Peer & {self?: boolean}} peer */
  _build(peer) {
    const el = /** @type {HTMLElement} */ (this.template.content.firstElementChild.cloneNode(true));
    el.dataset.peerId = peer.peer_id;
    el.classList.add(peer.self ? 'self' : 'remote');
    const toggle = () => this.spotlight(this.spotlightId === peer.peer_id ? null : peer.peer_id);
    const media = el.querySelector('.tile-media');
    // A touch shows the tools (which stay out of the picture otherwise); a click with a
    // mouse, whose pointer shows them on hover, puts the tile in the spotlight.
    media.addEventListener('pointerdown', (event) => {
      if (event.pointerType !== 'mouse') this._showTools(el);
    });
    media.addEventListener('click', (event) => {
      if (event.pointerType === 'mouse' || !event.pointerType) toggle();
    });
    media.querySelector('video').addEventListener('resize', () => this._layout());
    el.querySelector('.tool-spotlight').addEventListener('click', toggle);
    el.querySelector('.tool-rotate').addEventListener('click', () => this._turn(peer.peer_id));
    el.querySelector('.tool-flip').addEventListener('click', () => this._flip(peer.peer_id));
    const kick = el.querySelector('.tool-kick');
    const size = el.querySelector('.tool-size');
    if (peer.self) {
      kick.remove();
      el.querySelector('.tile-confirm').remove();
      // Mirroring is the player's choice for their own view, per camera (tileprefs.js).
      const flip = el.querySelector('.tool-flip');
      flip.title = 'Mirror your view (only you see it mirrored)';
      flip.setAttribute('aria-label', 'Mirror your view');
      size.addEventListener('click', () => this._resizeSelf());
      this._showSelfSize(size);
    } else {
      size.remove();
      kick.hidden = !this.canKick;
      const current = () => this.tiles.get(peer.peer_id)?.peer ?? peer;
      wireKick(el, current, (peerId) => this.onKick(peerId));
      this._applyView(el, this.prefs.view(playerKey(peer)));
    }
    return el;
  }

  /** @param {HTMLElement} el */
  _showTools(el) {
    el.classList.add('tools-shown');
    clearTimeout(el.toolsTimer);
    el.toolsTimer = setTimeout(() => el.classList.remove('tools-shown'), TOUCH_TOOLS_MS);
  }

  _resizeSelf() {
    this.prefs.selfSize = this.prefs.selfSize === 'small' ? 'same' : 'small';
    const size = this._self()?.el.querySelector('.tool-size');
    if (size) this._showSelfSize(size);
    this._layout();
  }

  /** @param {HTMLElement} button a toggle: its name stays, aria-pressed says the state */
  _showSelfSize(button) {
    button.setAttribute('aria-pressed', String(this.prefs.selfSize === 'same'));
  }

  /**
   * Where a tile's view is remembered: the others' per player, the own per camera.
   * @param {Tile} tile
   * @returns {{view: View, save: (change: Partial<View>) => void}}
   */
  _viewOf(tile) {
    if (tile.peer.self) {
      const camera = this.selfCamera;
      return { view: this.cameras.view(camera), save: (c) => this.cameras.setView(camera, c) };
    }
    const key = playerKey(tile.peer);
    return { view: this.prefs.view(key), save: (c) => this.prefs.setView(key, c) };
  }

  _turn(peerId) {
    const tile = this.tiles.get(peerId);
    const { view, save } = this._viewOf(tile);
    save({ rotate: ROTATIONS[(ROTATIONS.indexOf(view.rotate) + 1) % 4] });
    this._applyView(tile.el, this._viewOf(tile).view);
  }

  _flip(peerId) {
    const tile = this.tiles.get(peerId);
    const { view, save } = this._viewOf(tile);
    save({ flip: !view.flip });
    this._applyView(tile.el, this._viewOf(tile).view);
  }

  /** @param {HTMLElement} el @param {View} view */
  _applyView(el, view) {
    el.dataset.rotate = String(view.rotate);
    el.dataset.flip = view.flip ? '1' : '0';
    el.querySelector('.tool-flip').setAttribute('aria-pressed', String(view.flip));
    this._layout();
  }

  _render(tile) {
    const { el, peer, link } = tile;
    const name = peer.display_name ?? '';
    el.dataset.name = name;
    el.querySelector('.tile-name').textContent = peer.self ? `${name} (you)` : name;
    showIdentity(el, peer);  // picture and "Signed in" for signed-in players (identity-ui.js)
    el.querySelector('.badge-muted').hidden = peer.media?.audio !== false;
    // Talking over Discord or a phone is not being muted (issue 10): say which.
    el.querySelector('.badge-muted').textContent = peer.media?.voice_elsewhere ? 'Voice elsewhere' : 'Muted';
    el.querySelector('.badge-camera-off').hidden = peer.media?.video !== false;
    el.dataset.cameraOff = peer.media?.video === false ? '1' : '0';
    const [state, label, message] = describe(peer, link);
    el.dataset.state = state;
    el.dataset.attempt = String(link?.attempt ?? 0);
    el.querySelector('.tile-state').textContent = label;
    el.querySelector('.tile-message').textContent = message;
    el.classList.toggle('has-message', Boolean(message));
    this._renderHealth(tile, ['direct', 'relay', 'connected'].includes(state));
  }

  /** The link's health, in a word on the tile and in a sentence under the name. */
  _renderHealth(tile, connected) {
    const health = connected ? tile.health : null;
    const level = health?.level ?? '';
    const badge = tile.el.querySelector('.tile-health');
    const words = tile.el.querySelector('.tile-health-words');
    tile.el.dataset.health = level;
    badge.hidden = !level;
    badge.textContent = { good: 'Good', poor: 'Poor', bad: 'Bad' }[level] ?? '';
    badge.title = level ? `Link: ${level}` : '';
    const sentence = health ? describeHealth(tile.peer.display_name ?? 'This player', health) : '';
    words.textContent = sentence;
    words.hidden = !sentence;
  }

  /** Size and place every tile: layout.js's geometry on the stage's current box. */
  _layout() {
    this.grid.dataset.count = String(this.tiles.size);
    if (this._layoutFrame) return;
    this._layoutFrame = requestAnimationFrame(() => {
      this._layoutFrame = 0;
      this._place();
    });
  }

  _place() {
    const width = this.grid.clientWidth;
    const height = this.grid.clientHeight;
    const specs = [...this.tiles.values()].map((tile) => ({
      id: tile.peer.peer_id, aspect: this._aspect(tile),
      // Alone, the own view takes the stage; with others, it is smaller unless asked.
      scale: tile.peer.self && this.tiles.size > 1 ? SELF_SCALES[this.prefs.selfSize] : 1,
    }));
    // The own view goes last: the others come first in reading order.
    specs.sort((a, b) => Number(this.tiles.get(a.id).peer.self ?? false)
      - Number(this.tiles.get(b.id).peer.self ?? false));
    const { rects, used } = this.spotlightId
      ? layoutSpotlight({ width, height, gap: GAP, tiles: specs, spotlight: this.spotlightId })
      : layoutGrid({ width, height, gap: GAP, tiles: specs });
    this.grid.dataset.used = used.toFixed(3);
    this.grid.dataset.placedFor = `${width}x${height}x${specs.length}`;
    for (const [id, rect] of rects) {
      const { style } = this.tiles.get(id).el;
      style.left = `${rect.x.toFixed(1)}px`;
      style.top = `${rect.y.toFixed(1)}px`;
      style.width = `${rect.w.toFixed(1)}px`;
      style.height = `${rect.h.toFixed(1)}px`;
    }
  }

  /** The tile's shape as shown: its video's, turned a quarter when rotated by 90°. */
  _aspect(tile) {
    const video = tile.el.querySelector('video');
    const aspect = video.videoWidth && video.videoHeight
      ? video.videoWidth / video.videoHeight : this.defaultAspect;
    const turned = tile.el.dataset.rotate === '90' || tile.el.dataset.rotate === '270';
    return turned ? 1 / aspect : aspect;
  }
}
