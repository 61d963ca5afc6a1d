/**
 * The game table's protocol (docs/protocol.md, "The game table"): the state the server
 * confirmed, the changes we sent and still await, the log and the chat. No DOM.
 *
 * What is shown is always the confirmed state with our pending changes on top, and a
 * pending change lasts at most PENDING_MS: then it is confirmed (the server's state
 * holds it), refused (it rolls back, and `rejected` says why), or dropped unanswered.
 * @module game
 */
import { Emitter } from './emitter.js';

/** The longest a change of ours is shown before the server has confirmed it. */
export const PENDING_MS = 2500;
const SYNC_RETRY_MS = [300, 1000, 2000, 4000, 8000];
const LOG_KEEP = 500;
const CHAT_KEEP = 200;

/**
 * @typedef {{name: string, life: number, poison: number,
 *            commander: Record<string, number[]>, counters: Record<string, number>,
 *            partner: boolean, clock: ?number, out: string[]}} Player
 * @typedef {{version: number, game: number, seq: number,
 *            format: {name: string, starting_life: number, commander_damage: boolean},
 *            owner_only: boolean, players: Record<string, Player>, order: string[],
 *            active: ?string, turn: number, paused: boolean, clock: ?object,
 *            markers: {monarch: ?string, initiative: ?string, day_night: ?string},
 *            undo: Record<string, number>, undoable: number[]}} GameState
 * @typedef {{seq: number, version: number, type: string, actor: string,
 *            actor_name: ?string, player?: ?string, player_name?: ?string,
 *            before?: any, after?: any, at: number, count: number}} LogEntry
 * @typedef {{id: number, user_id: string, name: string, text: string, at: number}} ChatMessage
 * @typedef {{id: string, action: object, shownUntil: number, ackVersion: ?number}} Pending
 */

/**
 * Events: `change` (the shown state, log or role changed), `entry` (LogEntry, new or
 * extended), `chat` (ChatMessage), `rejected` ({action, code, message}: a change of ours
 * rolled back), `synced` (a whole snapshot arrived).
 */
export class GameClient extends Emitter {
  constructor() {
    super();
    /** @type {?import('./signaling.js').SignalingClient} */
    this.signaling = null;
    /** @type {?GameState} the state the server confirmed last (the highest version) */
    this.confirmed = null;
    /** @type {Map<number, LogEntry>} by seq */
    this.log = new Map();
    /** @type {ChatMessage[]} */
    this.chat = [];
    this.role = 'spectator';
    this.host = null;
    this.userId = null;
    this.peerId = null;
    /** Server clock minus ours, in seconds. */
    this.offset = 0;
    /** @type {Pending[]} */
    this.pending = [];
    this._prefix = Math.random().toString(36).slice(2, 8);
    this._count = 0;
    this._view = null;
    this._syncing = null;
    this._expiry = null;
    this._unsubscribe = [];
  }

  /**
   * Follow this room connection (and forget any earlier one): call before connecting,
   * so that the welcome is caught.
   * @param {import('./signaling.js').SignalingClient} signaling
   */
  use(signaling) {
    this.detach();
    this.signaling = signaling;
    this.confirmed = null;
    this.pending = [];
    this.log = new Map();
    this.chat = [];
    const on = (event, handler) => this._unsubscribe.push(this.signaling.on(event, handler));
    on('welcome', (welcome) => this._onWelcome(welcome));
    on('game-update', (update) => this._onUpdate(update));
    on('chat-message', (message) => this._onChat(message));
    on('room-updated', (update) => this._onHostChange(update?.host));
    this._changed();
    return this;
  }

  detach() {
    for (const unsubscribe of this._unsubscribe) unsubscribe();
    this._unsubscribe = [];
    clearTimeout(this._expiry);
  }

  // -- what is shown ------------------------------------------------------------------

  /** @returns {?GameState} the confirmed state with our pending changes applied */
  get state() {
    if (!this.confirmed) return null;
    if (!this._view) {
      const view = structuredClone(this.confirmed);
      for (const item of this.pending) applyLocally(view, item.action);
      this._view = view;
    }
    return this._view;
  }

  get isHost() { return this.role === 'host'; }

  get isPlayer() { return this.role !== 'spectator'; }

  /** @returns {LogEntry[]} oldest first */
  entries() {
    return [...this.log.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Server time now, in seconds (for chess clocks). */
  now() {
    return Date.now() / 1000 + this.offset;
  }

  /**
   * May we change this value? (The server decides; this only greys out controls.)
   * @param {string} kind life, poison, commander, counter, partner
   * @param {string} target the player's user_id
   * @param {number} delta
   * @param {?string} [source] commander damage's source
   */
  mayChange(kind, target, delta, source = null) {
    const state = this.confirmed;
    if (!state || !this.isPlayer) return false;
    if (target === this.userId) return true;
    if (state.owner_only) return false;
    if (this.isHost) return true;
    return (kind === 'life' && delta < 0) || (kind === 'poison' && delta > 0)
      || (kind === 'commander' && delta > 0 && source === this.userId);
  }

  /** @returns {?number} the log entry `undo` would reverse for us, if any */
  ownUndo() {
    return this.confirmed?.undo?.[this.userId] ?? null;
  }

  /** @param {number} seq */
  mayUndo(seq) {
    const state = this.confirmed;
    if (!state) return false;
    if (this.isHost) return state.undoable.includes(seq);
    return this.isPlayer && state.undo[this.userId] === seq;
  }

  // -- acting -------------------------------------------------------------------------

  /**
   * Send one action. The change shows at once and rolls back if the server refuses.
   * @param {object} action {type, ...} as in docs/protocol.md
   * @returns {Promise<object>} the ack; rejects with a SignalingError
   */
  async act(action) {
    const id = `${this._prefix}-${++this._count}`;
    if (!this.signaling?.socket?.connected) {
      const error = { code: 'offline', message: 'not connected to the server just now' };
      this.emit('rejected', { action, ...error });
      throw Object.assign(new Error(error.message), error);
    }
    /** @type {Pending} */
    const item = { id, action, shownUntil: Date.now() + PENDING_MS, ackVersion: null };
    this.pending.push(item);
    this._changed();
    this._scheduleExpiry();
    try {
      const ack = await this.signaling.request('game', { ...action, request_id: id });
      if (ack.entry) this._file(ack.entry);
      // Keep showing the change until a state that holds it arrives, so that the value
      // never flickers back between the ack and the game-update.
      item.ackVersion = ack.version;
      if ((this.confirmed?.version ?? -1) >= ack.version) this._drop(id);
      return ack;
    } catch (error) {
      if (this._drop(id)) {
        this.emit('rejected', { action, code: error.code, message: error.message });
      }
      throw error;
    }
  }

  /** @param {string} player @param {number} delta */
  life(player, delta) { return this.act({ type: 'life', player, delta }); }

  /** @param {string} player @param {number} delta */
  poison(player, delta) { return this.act({ type: 'poison', player, delta }); }

  /** @param {string} player @param {string} source @param {number} delta @param {number} [index] */
  commander(player, source, delta, index = 0) {
    return this.act({ type: 'commander', player, source, delta, index });
  }

  /** @param {string} player @param {string} name @param {number} delta */
  counter(player, name, delta) { return this.act({ type: 'counter', player, name, delta }); }

  passTurn() {
    return this.act({ type: 'pass-turn', turn: this.confirmed?.turn ?? 0 });
  }

  /** @param {number} seq a log entry */
  undo(seq) { return this.act({ type: 'undo', entry: seq }); }

  /** @param {string} text @returns {Promise<object>} */
  say(text) {
    return this.signaling.request('chat', { text, request_id: `${this._prefix}-c${++this._count}` });
  }

  /** Older log entries than we have; resolves with how many came. */
  async loadOlder() {
    const first = Math.min(...this.log.keys());
    if (!Number.isFinite(first) || first <= 1) return 0;
    const ack = await this.signaling.request('game-log', { before: first, limit: 50 });
    for (const entry of ack.log) this._file(entry, false);
    this._changed();
    return ack.log.length;
  }

  /** Ask for the whole table again (after a `game: null` welcome), retrying a while. */
  sync() {
    if (this._syncing) return this._syncing;
    this._syncing = (async () => {
      for (const wait of [0, ...SYNC_RETRY_MS]) {
        if (wait) await new Promise((resolve) => setTimeout(resolve, wait));
        if (!this.signaling?.socket?.connected) continue;
        try {
          this._load(await this.signaling.request('game-sync', {}));
          return true;
        } catch (error) {
          console.info('rhystic: game-sync failed:', error.message);
        }
      }
      return false;
    })().finally(() => { this._syncing = null; });
    return this._syncing;
  }

  // -- what the server says -----------------------------------------------------------

  _onWelcome(welcome) {
    this.userId = welcome.self?.user_id ?? this.userId;
    this.peerId = welcome.peer_id;
    // A fresh snapshot is the truth: whatever we had in flight is in it or is lost.
    this.pending = [];
    if (welcome.game) this._load(welcome.game);
    else this.sync();
  }

  /** @param {object} snapshot the welcome's `game`, or a game-sync ack */
  _load(snapshot) {
    this.offset = snapshot.server_time - Date.now() / 1000;
    this.role = snapshot.role;
    this.host = snapshot.host;
    this.confirmed = snapshot.state;
    this.log = new Map();
    for (const entry of snapshot.log ?? []) this._file(entry, false);
    this.chat = [];
    for (const message of snapshot.chat ?? []) this._addChat(message);
    this._changed();
    this.emit('synced');
  }

  _onUpdate(update) {
    if (update.entry) this._file(update.entry);
    if (update.peer_id === this.peerId && update.request_id != null) {
      this._drop(update.request_id, false);
    }
    if (update.state && update.state.version > (this.confirmed?.version ?? -1)) {
      this.confirmed = update.state;
      this._updateRole();  // a player removed from the game, or seated in it
      this.pending = this.pending.filter(
        (item) => item.ackVersion == null || item.ackVersion > this.confirmed.version);
    }
    this._changed();
  }

  /** The host role passed on (docs/protocol.md §7a): the host's controls follow it. */
  _onHostChange(host) {
    if (!host || host === this.host) return;
    this.host = host;
    if (!this.confirmed) return;  // the snapshot on its way sets the role
    this._updateRole();
    this._changed();
  }

  /** Our role as the server reckons it (rules.py role_of): host, player or spectator. */
  _updateRole() {
    if (this.host && this.host === this.userId) this.role = 'host';
    else this.role = this.confirmed?.players[this.userId] ? 'player' : 'spectator';
  }

  _onChat(message) {
    if (this._addChat(message)) this.emit('chat', message);
  }

  /** @returns {boolean} whether it is new */
  _addChat(message) {
    if (this.chat.some((m) => m.id === message.id)) return false;
    this.chat.push(message);
    this.chat.sort((a, b) => a.id - b.id);
    if (this.chat.length > CHAT_KEEP) this.chat.splice(0, this.chat.length - CHAT_KEEP);
    return true;
  }

  /** File a log entry by seq; an entry we have is replaced by a later version of it. */
  _file(entry, announce = true) {
    const known = this.log.get(entry.seq);
    if (known && known.version >= entry.version) return;
    this.log.set(entry.seq, entry);
    if (this.log.size > LOG_KEEP) this.log.delete(Math.min(...this.log.keys()));
    if (announce) this.emit('entry', entry, Boolean(known));
  }

  /** @returns {boolean} whether it was still pending */
  _drop(id, notify = true) {
    const before = this.pending.length;
    this.pending = this.pending.filter((item) => item.id !== id);
    const dropped = this.pending.length !== before;
    if (dropped && notify) this._changed();
    return dropped;
  }

  /** Drop changes the server has not confirmed within PENDING_MS: they roll back. */
  _scheduleExpiry() {
    clearTimeout(this._expiry);
    if (!this.pending.length) return;
    const next = Math.min(...this.pending.map((item) => item.shownUntil));
    this._expiry = setTimeout(() => {
      const now = Date.now();
      const late = this.pending.filter((item) => item.shownUntil <= now);
      if (late.length) {
        this.pending = this.pending.filter((item) => item.shownUntil > now);
        for (const item of late) {
          this.emit('rejected', { action: item.action, code: 'timeout',
            message: 'the server has not confirmed this change yet' });
        }
        this._changed();
      }
      this._scheduleExpiry();
    }, Math.max(0, next - Date.now()) + 10);
  }

  _changed() {
    this._view = null;
    this.emit('change');
  }
}

/**
 * Our own pending change, on a copy of the state. Only changes whose outcome we can
 * tell for sure are shown early: value deltas and passing the turn.
 * @param {GameState} state @param {object} action
 */
export function applyLocally(state, action) {
  if (action.type === 'pass-turn') {
    if (!state.active || action.turn !== state.turn) return;
    const at = state.order.indexOf(state.active);
    state.active = state.order[(at + 1) % state.order.length];
    state.turn += 1;
    return;
  }
  const player = state.players[action.player];
  if (!player) return;
  if (action.type === 'life') player.life += action.delta;
  else if (action.type === 'poison') player.poison += action.delta;
  else if (action.type === 'counter') {
    player.counters[action.name] = (player.counters[action.name] ?? 0) + action.delta;
  } else if (action.type === 'commander') {
    const pair = [...(player.commander[action.source] ?? [0, 0])];
    pair[action.index ?? 0] += action.delta;
    player.commander[action.source] = pair;
    if (action.life !== false) player.life -= action.delta;
  }
}
