/**
 * The grid of tiles: one per player, with badges, link state, quality, and the
 * viewer's own choices (spotlight, rotation, flip), remembered per room and player.
 * @module tiles
 */
import { FAILURE_REASONS } from './linkhealth.js';

/**
 * @typedef {import('./signaling.js').Peer} Peer
 * @typedef {import('./link.js').LinkState} LinkState
 * @typedef {import('./linkhealth.js').LinkStats} LinkStats
 * @typedef {{rotate: number, flip: boolean}} View
 */

const ROTATIONS = [0, 90, 180, 270];

/** Viewer-side choices, kept in localStorage per room and keyed by the player's account. */
export class ViewPrefs {
  /** @param {string} roomId */
  constructor(roomId) {
    this.key = `rhystic:view:${roomId}`;
    this.data = this._load();
  }

  _load() {
    try {
      const data = JSON.parse(localStorage.getItem(this.key) ?? '{}');
      return { players: data.players ?? {}, spotlight: data.spotlight ?? null };
    } catch {
      return { players: {}, spotlight: null };
    }
  }

  _save() {
    try { localStorage.setItem(this.key, JSON.stringify(this.data)); } catch { /* full */ }
  }

  /** @param {string} playerKey @returns {View} */
  view(playerKey) {
    return { rotate: 0, flip: false, ...(this.data.players[playerKey] ?? {}) };
  }

  /** @param {string} playerKey @param {Partial<View>} change */
  setView(playerKey, change) {
    this.data.players[playerKey] = { ...this.view(playerKey), ...change };
    this._save();
  }

  /** @returns {?string} */
  get spotlight() { return this.data.spotlight; }

  set spotlight(playerKey) {
    this.data.spotlight = playerKey;
    this._save();
  }
}

/** The tiles on the page. */
export class TileGrid {
  /**
   * @param {{grid: HTMLElement, stage: HTMLElement, template: HTMLTemplateElement,
   *          prefs: ViewPrefs, onSpotlight: (peerId: ?string) => void,
   *          onSoundBlocked: () => void, onKick?: (peerId: string) => Promise<void>}} options
   */
  constructor({ grid, stage, template, prefs, onSpotlight, onSoundBlocked, onKick }) {
    this.grid = grid;
    this.stage = stage;
    this.template = template;
    this.prefs = prefs;
    this.onSpotlight = onSpotlight;
    this.onSoundBlocked = onSoundBlocked;
    this.onKick = onKick ?? (async () => {});
    /** Whether we may remove players: the room's creator may. */
    this.canKick = false;
    /** @type {Map<string, {el: HTMLElement, peer: Peer, link: ?LinkState}>} */
    this.tiles = new Map();
    this.spotlightId = null;
    this._countdown = null;
  }

  /**
   * @param {Peer} peer
   * @param {MediaStream} stream
   * @param {boolean} mirrored a selfie camera is shown mirrored; a table camera never
   */
  addSelf(peer, stream, mirrored) {
    const tile = this.upsert({ ...peer, self: true });
    tile.el.classList.add('self');
    this.setMirrored(mirrored);
    this.setStream(peer.peer_id, stream);
    this.setLinkState(peer.peer_id, { status: 'self', route: null, reason: null });
  }

  /** @param {boolean} mirrored */
  setMirrored(mirrored) {
    const self = [...this.tiles.values()].find((t) => t.peer.self);
    self?.el.querySelector('video').classList.toggle('mirrored', mirrored);
  }

  /** @param {Peer & {self?: boolean}} peer @returns {{el: HTMLElement, peer: Peer}} */
  upsert(peer) {
    let tile = this.tiles.get(peer.peer_id);
    if (!tile) {
      tile = { el: this._build(peer), peer, link: null };
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
      if (!canKick) this._closeConfirm(tile.el);
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
    if (stats.fps != null) parts.push(`${Math.round(stats.fps)} fps`);
    if (stats.kbps != null) parts.push(formatRate(stats.kbps));
    tile.el.querySelector('.tile-quality').textContent = parts.join(' · ');
    tile.el.dataset.framesDecoded = String(stats.framesDecoded);
    if (stats.route) tile.el.dataset.route = stats.route;
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
    this.onSpotlight(tile && !tile.peer.self ? this.spotlightId : null);
  }

  /** @param {Peer & {self?: boolean}} peer */
  _build(peer) {
    const el = /** @type {HTMLElement} */ (this.template.content.firstElementChild.cloneNode(true));
    el.dataset.peerId = peer.peer_id;
    el.classList.add(peer.self ? 'self' : 'remote');
    const toggle = () => this.spotlight(this.spotlightId === peer.peer_id ? null : peer.peer_id);
    el.querySelector('.tile-media').addEventListener('click', toggle);
    el.querySelector('.tool-spotlight').addEventListener('click', toggle);
    const rotate = el.querySelector('.tool-rotate');
    const flip = el.querySelector('.tool-flip');
    const kick = el.querySelector('.tool-kick');
    if (peer.self) {
      rotate.remove();
      flip.remove();
      kick.remove();
      el.querySelector('.tile-confirm').remove();
    } else {
      kick.hidden = !this.canKick;
      kick.addEventListener('click', () => this._askKick(peer.peer_id));
      el.querySelector('.confirm-cancel').addEventListener('click', () => this._closeConfirm(el));
      el.querySelector('.confirm-kick').addEventListener('click', () => this._kick(peer.peer_id));
      rotate.addEventListener('click', () => this._turn(peer.peer_id));
      flip.addEventListener('click', () => this._flip(peer.peer_id));
      this._applyView(el, this.prefs.view(playerKey(peer)));
    }
    return el;
  }

  /** The confirm step: removing someone is not undone by a stray click. */
  _askKick(peerId) {
    const tile = this.tiles.get(peerId);
    if (!tile) return;
    const confirm = tile.el.querySelector('.tile-confirm');
    confirm.querySelector('.confirm-text').textContent =
      `Remove ${tile.peer.display_name ?? 'this player'} from the room? They can't come back `
      + 'for 10 minutes.';
    confirm.querySelector('.confirm-error').textContent = '';
    confirm.hidden = false;
    confirm.querySelector('.confirm-cancel').focus();
  }

  async _kick(peerId) {
    const tile = this.tiles.get(peerId);
    if (!tile) return;
    const confirm = tile.el.querySelector('.tile-confirm');
    const button = confirm.querySelector('.confirm-kick');
    button.disabled = true;
    try {
      await this.onKick(peerId);  // the tile goes when the server's peer-left arrives
    } catch (error) {
      confirm.querySelector('.confirm-error').textContent =
        `Could not remove them: ${error.message || error}`;
    } finally {
      button.disabled = false;
    }
  }

  /** @param {HTMLElement} el */
  _closeConfirm(el) {
    const confirm = el.querySelector('.tile-confirm');
    if (confirm) confirm.hidden = true;
  }

  _turn(peerId) {
    const tile = this.tiles.get(peerId);
    const key = playerKey(tile.peer);
    const rotate = ROTATIONS[(ROTATIONS.indexOf(this.prefs.view(key).rotate) + 1) % 4];
    this.prefs.setView(key, { rotate });
    this._applyView(tile.el, this.prefs.view(key));
  }

  _flip(peerId) {
    const tile = this.tiles.get(peerId);
    const key = playerKey(tile.peer);
    this.prefs.setView(key, { flip: !this.prefs.view(key).flip });
    this._applyView(tile.el, this.prefs.view(key));
  }

  /** @param {HTMLElement} el @param {View} view */
  _applyView(el, view) {
    el.dataset.rotate = String(view.rotate);
    el.dataset.flip = view.flip ? '1' : '0';
    el.querySelector('.tool-flip').setAttribute('aria-pressed', String(view.flip));
  }

  _render(tile) {
    const { el, peer, link } = tile;
    const name = peer.display_name ?? '';
    el.dataset.name = name;
    el.querySelector('.tile-name').textContent = peer.self ? `${name} (you)` : name;
    el.querySelector('.badge-muted').hidden = peer.media?.audio !== false;
    el.querySelector('.badge-camera-off').hidden = peer.media?.video !== false;
    el.dataset.cameraOff = peer.media?.video === false ? '1' : '0';
    const [state, label, message] = describe(peer, link);
    el.dataset.state = state;
    el.dataset.attempt = String(link?.attempt ?? 0);
    el.querySelector('.tile-state').textContent = label;
    el.querySelector('.tile-message').textContent = message;
    el.classList.toggle('has-message', Boolean(message));
  }

  _layout() {
    this.grid.dataset.count = String(this.tiles.size);
  }
}

/**
 * What the tile says: its state, a short label and, when there is no picture, why.
 * @param {Peer & {self?: boolean}} peer
 * @param {?LinkState} link
 * @returns {[string, string, string]}
 */
function describe(peer, link) {
  const name = peer.display_name ?? 'this player';
  const cameraOff = peer.media?.video === false;
  if (peer.self) {
    return ['self', 'You', cameraOff ? 'Your camera is off' : ''];
  }
  const status = link?.status ?? 'connecting';
  if (status === 'failed') {
    const why = FAILURE_REASONS[link.reason] ?? FAILURE_REASONS['no-route'];
    // The link keeps trying on its own: say when, so the tile is not a dead end.
    const next = link.retryAt ? `Trying again in ${secondsUntil(link.retryAt)} s.`
      : `Trying again now (attempt ${link.attempt + 1})…`;
    return ['failed', 'No connection', `Can't reach ${name}: ${why}. ${next}`];
  }
  if (status === 'reconnecting') return ['reconnecting', 'Reconnecting…', `Reconnecting to ${name}…`];
  if (status === 'connecting') return ['connecting', 'Connecting…', `Connecting to ${name}…`];
  const note = cameraOff ? `${name} turned their camera off` : '';
  if (!link.route) return ['connected', 'Connected', note];
  return [link.route, link.route === 'relay' ? 'Via relay' : 'Direct', note];
}

/** @param {number} at a Date.now() time @returns {number} whole seconds from now, at least 1 */
function secondsUntil(at) {
  return Math.max(1, Math.ceil((at - Date.now()) / 1000));
}

/** A player's key for remembered choices: their account, stable across reloads. */
function playerKey(peer) {
  return peer.user_id ?? peer.peer_id;
}

function formatRate(kbps) {
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${kbps} kbit/s`;
}
