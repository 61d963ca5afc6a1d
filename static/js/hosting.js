/**
 * A room the host controls (docs/protocol.md §7a), and nothing else: no DOM.
 *
 * `HostControls` follows one room connection (a SignalingClient): who hosts, whether the
 * room is locked and whether newcomers may knock, and, on the host's side, who is
 * knocking; it sends the host's requests. `Knocker` is the newcomer's side: it waits on
 * the lobby namespace `/lobby/<room_id>` until the host answers.
 *
 * The server enforces every rule; these only reflect what it says.
 * @module hosting
 */
import { io } from '../vendor/socket.io.esm.min.js';
import { Emitter } from './emitter.js';
import { SignalingError } from './signaling.js';

/**
 * @typedef {{host: ?string, locked: boolean, knock: boolean, signed_in_only: boolean}} RoomControl
 *   signed_in_only: only accounts a sign-in provider vouches for may join (the server
 *   sends it only while it is on)
 * @typedef {RoomControl & {reason: string}} RoomUpdate
 *   reason: welcome, settings, handed_over or host_left
 * @typedef {{knock_id: string, user_id: string, display_name: string, at: number}} Knock
 */

/**
 * Events: `change` (RoomUpdate): the room's control, or who is knocking, changed.
 */
export class HostControls extends Emitter {
  constructor() {
    super();
    /** @type {?import('./signaling.js').SignalingClient} */
    this.signaling = null;
    /** @type {RoomControl} */
    this.control = { host: null, locked: false, knock: false, signed_in_only: false };
    /** Our account, from the welcome. */
    this.userId = null;
    /** @type {Map<string, Knock>} who is waiting to be let in (the host's view only) */
    this.knocks = new Map();
    this._unsubscribe = [];
  }

  /**
   * Follow this room connection (and forget any earlier one): call before connecting,
   * so that the welcome is caught.
   * @param {import('./signaling.js').SignalingClient} signaling
   * @returns {this}
   */
  use(signaling) {
    this.detach();
    this.signaling = signaling;
    const on = (event, handler) => this._unsubscribe.push(signaling.on(event, handler));
    on('welcome', (welcome) => this._onWelcome(welcome));
    on('room-updated', (update) => this._apply(update, update.reason));
    on('knock', (knock) => {
      this.knocks.set(knock.knock_id, knock);
      this._changed('knock');
    });
    on('knock-cancelled', ({ knock_id: knockId }) => this._forget(knockId));
    return this;
  }

  detach() {
    for (const unsubscribe of this._unsubscribe) unsubscribe();
    this._unsubscribe = [];
  }

  /** Whether our account hosts the room. */
  get isHost() {
    return this.userId !== null && this.control.host === this.userId;
  }

  /** @returns {Knock[]} oldest first */
  knockList() {
    return [...this.knocks.values()].sort((a, b) => a.at - b.at);
  }

  /** @param {boolean} locked @returns {Promise<RoomControl>} */
  setLocked(locked) {
    return this._settings({ locked });
  }

  /** @param {boolean} knock let newcomers to a locked room ask to be let in */
  setKnock(knock) {
    return this._settings({ knock });
  }

  /** @param {boolean} signedInOnly let only signed-in players join (guests are refused) */
  setSignedInOnly(signedInOnly) {
    return this._settings({ signed_in_only: signedInOnly });
  }

  /**
   * Hand the host role to the account behind this seat. We lose the host's controls.
   * @param {string} peerId
   * @returns {Promise<RoomControl>}
   */
  async makeHost(peerId) {
    const ack = await this._request('make-host', { peer_id: peerId });
    this._apply(ack.room, 'handed_over');
    return this.control;
  }

  /**
   * Let a newcomer in, or turn them away. A knock that is over already (they left, or
   * another of the host's devices answered) is dropped and rejects with `unknown_knock`.
   * @param {string} knockId @param {boolean} admit
   * @returns {Promise<void>}
   */
  async answer(knockId, admit) {
    try {
      await this._request('admit', { knock_id: knockId, admit });
    } catch (error) {
      if (error.code === 'unknown_knock') this._forget(knockId);
      throw error;
    }
    this._forget(knockId);  // knock-cancelled follows, for the host's other devices
  }

  /** @param {Partial<RoomControl>} changes @returns {Promise<RoomControl>} */
  async _settings(changes) {
    const ack = await this._request('room-settings', changes);
    this._apply(ack.room, 'settings');
    return this.control;
  }

  _request(event, payload) {
    if (!this.signaling) throw new SignalingError('not_joined', 'not connected to a room');
    return this.signaling.request(event, payload);
  }

  /** @param {import('./signaling.js').Welcome} welcome the first, and after a resume */
  _onWelcome(welcome) {
    this.userId = welcome.self?.user_id ?? null;
    // Only the host's welcome lists who is knocking: the current list, after a resume too.
    this.knocks = new Map((welcome.room?.knocks ?? []).map((knock) => [knock.knock_id, knock]));
    this._apply(welcome.room ?? {}, 'welcome');
  }

  /** @param {Partial<RoomControl>} room @param {string} reason */
  _apply(room, reason) {
    const wasHost = this.isHost;
    this.control = {
      host: room.host ?? this.control.host,
      locked: room.locked ?? this.control.locked,
      knock: room.knock ?? this.control.knock,
      // Said only while on; every message that carries the room's control is whole.
      signed_in_only: room.signed_in_only === true,
    };
    // Knocks go to the host's seats only: a former host hears no more of these.
    if (wasHost && !this.isHost) this.knocks.clear();
    this._changed(reason);
  }

  /** @param {string} knockId */
  _forget(knockId) {
    if (this.knocks.delete(knockId)) this._changed('knock');
  }

  /** @param {string} reason */
  _changed(reason) {
    this.emit('change', { ...this.control, reason });
  }
}

/**
 * A newcomer knocking on a locked room. One Knocker makes one knock at a time.
 * Events: `pending` (knockId): the host has been asked; again with a new id if the
 * lobby connection dropped and came back.
 */
export class Knocker extends Emitter {
  /**
   * @param {string} [url] the server's origin; defaults to this page's
   * @param {{token?: string, transports?: string[]}} [options] token: for non-browser use
   */
  constructor(url = globalThis.location?.origin, options = {}) {
    super();
    this.url = url;
    this.options = options;
    this.knockId = null;
    this._stop = null;
    this._cancel = null;
  }

  /**
   * Knock, and wait for the host's answer. Admitted means: join the room now (the
   * server lets this account in once, within 2 minutes).
   * @param {string} roomId
   * @param {{displayName?: string}} [options]
   * @returns {Promise<boolean>} true when let in, false when turned away; rejects with a
   *   SignalingError: `room_locked` (knocking is off), `cancelled` (cancel()), or any
   *   refusal of the room's own (`unauthorized`, `room_not_found`, ...)
   */
  knock(roomId, { displayName } = {}) {
    if (this._stop) throw new Error('already knocking: cancel() first');
    const auth = {};
    if (this.options.token) auth.token = this.options.token;
    if (displayName) auth.display_name = displayName;
    const socket = io(`${this.url}/lobby/${encodeURIComponent(roomId)}`, {
      transports: this.options.transports ?? ['websocket'],
      auth,
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
      forceNew: true,
    });
    return new Promise((resolve, reject) => {
      this._stop = (settle, value) => {
        this._stop = null;
        this.knockId = null;
        socket.removeAllListeners();
        socket.io.reconnection(false);
        socket.disconnect();
        settle(value);
      };
      socket.on('knock-pending', ({ knock_id: knockId }) => {
        this.knockId = knockId;
        this.emit('pending', knockId);
      });
      socket.on('knock-answer', ({ admitted }) => this._stop?.(resolve, admitted === true));
      socket.on('connect_error', (err) => {
        if (socket.active) return;  // the network: socket.io keeps trying, and we knock again
        this._stop?.(reject, new SignalingError(err.message, err.data?.message ?? err.message,
          err.data ?? {}));
      });
      socket.on('disconnect', (reason) => {
        // A restarting server closes us on purpose, and socket.io would not come back.
        if (reason === 'io server disconnect') setTimeout(() => this._stop && socket.connect(), 500);
      });
      this._cancel = () => this._stop?.(reject,
        new SignalingError('cancelled', 'You stopped waiting to be let in.'));
    });
  }

  /** Stop waiting; the host's prompt goes away. The pending knock() rejects (`cancelled`). */
  cancel() {
    this._cancel?.();
  }
}
