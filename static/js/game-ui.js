/**
 * The game table on the call page: each tile's life total and its controls, the turn
 * marker, keyboard shortcuts, announcements, and the buttons that open the dice, the
 * chat and log drawer, the host's table settings and the player panel.
 *
 * Tiles belong to tiles.js: this module only adds a `.game-pod` to each `.tile` it
 * finds in the grid (by its data-peer-id) and a `game-active` class, nothing else.
 * @module game-ui
 */
import { ChatDrawer } from './chat.js';
import { GameClient } from './game.js';
import { ClockSetting, PodClocks } from './game-clock.js';
import { PlayerPanel } from './game-panel.js';
import { ANNOUNCED, describeEntry } from './game-text.js';
import { DiceTool, TableTool } from './game-tools.js';
import { HOLD_STEP, holdable } from './hold.js';
import { OverlayLink } from './overlay-link.js';

const TOAST_MS = 4500;
const FLASH_MS = 1200;

/** @param {string} id @returns {any} */
const $ = (id) => document.getElementById(id);

export class GameUI {
  /** @param {HTMLElement} root the room page, whose data-view says whether the call shows */
  constructor(root) {
    this.game = new GameClient();
    /** @type {?import('./room.js').RoomClient} */
    this.room = null;
    this.root = root;
    this.grid = $('grid');
    this.template = $('pod-template');
    this.nameOf = (userId) => this.game.confirmed?.players[userId]?.name ?? 'someone';
    const game = this.game;
    this.panel = new PlayerPanel(game, $('player-dialog'), this.nameOf);
    this.dice = new DiceTool(game, $('dice-dialog'), this.nameOf);
    this.table = new TableTool(game, $('table-dialog'), this.nameOf);
    this.clockSetting = new ClockSetting(game, $('table-dialog'));
    this.clocks = new PodClocks(game, this.grid,
      (userId) => this.toast(userId === game.userId ? 'You are out of time'
        : `${this.nameOf(userId)} is out of time`));
    this.drawer = new ChatDrawer(game, { drawer: $('drawer'), button: $('drawer-button'),
      unread: $('drawer-unread'), nameOf: this.nameOf });
    this._toastTimer = null;
    game.on('change', () => this.render());
    game.on('entry', (entry, extended) => this._onEntry(entry, extended));
    game.on('rejected', (rejection) => this._onRejected(rejection));
    new MutationObserver(() => this.render()).observe(this.grid, { childList: true });
    $('dice-button').addEventListener('click', () => this.dice.open());
    $('drawer-button').addEventListener('click', () => this.drawer.toggle());
    this.overlayLink = new OverlayLink($('table-dialog'), root.dataset.roomId);
    $('table-button').addEventListener('click', () => {
      this.table.open();
      this.clockSetting.refresh();
      this.overlayLink.refresh();
    });
    $('keys-button').addEventListener('click', () => $('keys-dialog').showModal());
    document.addEventListener('keydown', (event) => this._onKey(event));
  }

  /**
   * Follow a room: call before joining it, so that the welcome's game is caught.
   * @param {import('./signaling.js').SignalingClient} signaling
   * @param {import('./room.js').RoomClient} room
   */
  connect(signaling, room) {
    this.room = room;
    this.game.use(signaling);
  }

  /** @param {string} peerId @returns {?string} the account behind a tile */
  userOf(peerId) {
    if (this.room?.self?.peer_id === peerId) return this.room.self.user_id;
    return this.room?.peers.get(peerId)?.user_id ?? null;
  }

  render() {
    const state = this.game.state;
    $('table-button').hidden = !this.game.isHost;
    this.root.dataset.gameRole = this.game.role;
    for (const tile of this.grid.querySelectorAll(':scope > .tile[data-peer-id]')) {
      this._renderTile(/** @type {HTMLElement} */ (tile), state);
    }
    this.clocks.render();  // after the tiles: it reads their data-game-user
  }

  // -- a tile's pod -------------------------------------------------------------------

  /** @param {HTMLElement} tile @param {?import('./game.js').GameState} state */
  _renderTile(tile, state) {
    const userId = this.userOf(tile.dataset.peerId);
    const player = userId && state?.players[userId];
    let pod = /** @type {?HTMLElement} */ (tile.querySelector(':scope > .game-pod'));
    if (!player) {
      if (pod) pod.hidden = true;
      tile.classList.remove('game-active');
      delete tile.dataset.gameUser;
      return;
    }
    if (!pod) pod = this._buildPod(tile);
    pod.hidden = false;
    tile.dataset.gameUser = userId;
    const game = this.game;
    const mine = userId === game.userId;
    const active = state.active === userId;
    const who = mine ? 'Your' : `${player.name}'s`;
    pod.setAttribute('aria-label', `${who} life: ${player.life}`);
    const total = pod.querySelector('.pod-total');
    total.textContent = String(player.life);
    total.dataset.pending = String(game.pending.some((p) => touchesLife(p.action, userId)));
    total.classList.toggle('out', player.out.length > 0);
    const minus = pod.querySelector('.pod-minus');
    const plus = pod.querySelector('.pod-plus');
    minus.disabled = !game.mayChange('life', userId, -1);
    plus.disabled = !game.mayChange('life', userId, 1);
    minus.setAttribute('aria-label', `${mine ? 'You lose' : `${player.name} loses`} 1 life (hold for ${HOLD_STEP})`);
    plus.setAttribute('aria-label', `${mine ? 'You gain' : `${player.name} gains`} 1 life (hold for ${HOLD_STEP})`);
    tile.classList.toggle('game-active', active);
    chip(pod, '.chip-turn', active ? `Turn ${state.turn}` : '',
      active ? `${mine ? 'your' : `${player.name}'s`} turn, turn ${state.turn}` : '');
    chip(pod, '.chip-out', player.out.length ? 'Out' : '',
      `lost: ${player.out.join(', ')}`);
    chip(pod, '.chip-poison', player.poison ? `☠ ${player.poison}` : '', `${player.poison} poison`);
    const worst = Math.max(0, ...Object.values(player.commander).flat());
    chip(pod, '.chip-cmd', worst ? `⚔ ${worst}` : '',
      `${worst} commander damage from one commander`);
    const markers = [['monarch', 'Monarch'], ['initiative', 'Initiative']]
      .filter(([key]) => state.markers[key] === userId).map(([, label]) => label);
    chip(pod, '.chip-marker', markers.join(' · '), markers.join(', '));
    pod.querySelector('.pod-more').setAttribute('aria-label',
      `${mine ? 'Your' : `${player.name}'s`} poison, commander damage and counters`);
    // Your own tile only: the host gives the turn to anyone from the table settings.
    pod.querySelector('.pod-pass').hidden = !(active && mine);
  }

  /** @param {HTMLElement} tile */
  _buildPod(tile) {
    const pod = /** @type {HTMLElement} */ (this.template.content.firstElementChild.cloneNode(true));
    const user = () => tile.dataset.gameUser;
    holdable(pod.querySelector('.pod-minus'), (step) => this._life(user(), -step));
    holdable(pod.querySelector('.pod-plus'), (step) => this._life(user(), step));
    pod.querySelector('.pod-more').addEventListener('click', () => this.panel.open(user()));
    pod.querySelector('.pod-pass').addEventListener('click', () => this._passTurn());
    tile.append(pod);
    return pod;
  }

  _life(userId, delta) {
    if (userId) this.game.life(userId, delta).catch(() => {});  // 'rejected' says why
  }

  _passTurn() {
    this.game.passTurn().catch(() => {});
  }

  // -- what happened ------------------------------------------------------------------

  /** @param {object} entry @param {boolean} extended */
  _onEntry(entry, extended) {
    if (entry.type === 'roll' || entry.type === 'flip' || entry.type === 'first-player') {
      this.dice.showResult(entry);
    }
    const text = describeEntry(entry, this.nameOf);
    if (ANNOUNCED.has(entry.type) && !extended) {
      const state = this.game.confirmed;
      const myTurn = (entry.type === 'pass-turn' || entry.type === 'set-active'
        || entry.type === 'first-player') && state?.active === this.game.userId;
      this.toast(myTurn ? `${text}. Your turn!` : text);
    } else if (entry.player === this.game.userId && entry.actor !== this.game.userId) {
      this.say(text);  // someone else changed our numbers: tell a screen reader
    }
  }

  _onRejected({ action, code, message }) {
    const totals = this.grid.querySelectorAll(
      `:scope > .tile[data-game-user="${CSS.escape(action.player ?? '')}"] .pod-total`);
    for (const total of totals) {
      total.classList.remove('rolled-back');
      void total.offsetWidth;  // restart the animation
      total.classList.add('rolled-back');
      setTimeout(() => total.classList.remove('rolled-back'), FLASH_MS);
    }
    const what = code === 'timeout' ? 'No answer from the server' : 'Not counted';
    this.toast(`${what}: ${message}`, 'error');  // a status region: read out too
  }

  /** @param {string} text @param {'info'|'error'} [kind] */
  toast(text, kind = 'info') {
    const toast = $('game-toast');
    toast.textContent = text;
    toast.dataset.kind = kind;
    toast.hidden = false;
    clearTimeout(this._toastTimer);
    this._toastTimer = setTimeout(() => { toast.hidden = true; }, TOAST_MS);
  }

  /** @param {string} text for screen readers only */
  say(text) {
    $('game-live').textContent = text;
  }

  // -- keyboard -----------------------------------------------------------------------

  /** @param {KeyboardEvent} event */
  _onKey(event) {
    if (this.root.dataset.view !== 'call' || event.ctrlKey || event.metaKey || event.altKey
        || event.defaultPrevented || document.querySelector('dialog[open]')) return;
    const target = /** @type {HTMLElement} */ (event.target);
    if (target.closest?.('input, textarea, select, [contenteditable="true"]')) return;
    const me = this.game.userId;
    const step = event.shiftKey ? HOLD_STEP : 1;
    const actions = {
      Equal: () => this._life(me, step),
      NumpadAdd: () => this._life(me, step),
      Minus: () => this._life(me, -step),
      NumpadSubtract: () => this._life(me, -step),
      KeyP: () => this.game.poison(me, event.shiftKey ? -1 : 1).catch(() => {}),
      KeyE: () => this.panel.open(me),
      KeyT: () => this.game.confirmed?.active === me && this._passTurn(),
      KeyU: () => this._undoOwn(),
      KeyD: () => this.dice.open(),
      KeyC: () => this.drawer.open({ focusInput: true }),
      Slash: () => event.shiftKey && $('keys-dialog').showModal(),
      Escape: () => this.drawer.close(),
    };
    const run = actions[event.code] ?? (event.key === '?' ? actions.Slash : null);
    if (!run || !this.game.confirmed || (event.code === 'Escape' && !this.drawer.isOpen)) return;
    event.preventDefault();
    run();
  }

  _undoOwn() {
    const seq = this.game.ownUndo();
    if (seq == null) {
      this.toast('Nothing of yours to undo.');
      return;
    }
    this.game.undo(seq).catch(() => {});
  }
}

/** @param {object} action @param {string} userId */
function touchesLife(action, userId) {
  return action.player === userId && (action.type === 'life' || action.type === 'commander');
}

/** @param {HTMLElement} pod @param {string} selector @param {string} text @param {string} label */
function chip(pod, selector, text, label) {
  const el = pod.querySelector(selector);
  el.hidden = !text;
  if (!text) return;
  el.textContent = text;
  el.title = label;
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', label);
}
