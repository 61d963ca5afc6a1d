/**
 * The Rhystic signaling protocol (docs/protocol.md) over Socket.IO, and nothing else:
 * no DOM, no WebRTC. One SignalingClient holds one seat in one room.
 * @module signaling
 */
import { io } from '../vendor/socket.io.esm.min.js';
import { Emitter } from './emitter.js';

/**
 * @typedef {{audio: boolean, video: boolean}} Media
 * @typedef {{peer_id: string, user_id: string, display_name: string, media: Media}} Peer
 * @typedef {{
 *   peer_id: string, resume: string, resumed: boolean, self: Peer,
 *   room: {id: string, name: ?string, max_peers: number, host: ?string,
 *          locked: boolean, knock: boolean, knocks?: object[]}, peers: Peer[],
 *   owner: boolean, ice_servers: RTCIceServer[],
 *   ice_transport_policy: RTCIceTransportPolicy, ice_servers_ttl: ?number,
 *   grace_seconds: number
 * }} Welcome
 * @typedef {{from: string, type: 'offer'|'answer'|'ice', sdp?: string,
 *            candidate?: ?RTCIceCandidateInit, candidates?: RTCIceCandidateInit[]}} Signal
 * @typedef {'idle'|'connecting'|'connected'|'reconnecting'|'closed'} SignalingState
 */

const ACK_TIMEOUT_MS = 8000;
// The most candidates one `ice` signal may carry (docs/protocol.md §5).
const MAX_CANDIDATES = 32;
const LEAVE_TIMEOUT_MS = 1500;
// A server that keeps closing our socket on purpose is not going to change its mind.
const MAX_SERVER_DISCONNECTS = 5;
// peer-left reasons that, for our own seat, end it for good (docs/protocol.md §4).
const ENDED_BY = new Map([
  ['kicked', 'You were removed from this room.'],
  ['signed_out', 'You signed out on another device.'],
]);

/** A refused connection or a failed request; `code` is a protocol error code. */
export class SignalingError extends Error {
  /** @param {string} code @param {string} message @param {object} [data] */
  constructor(code, message, data = {}) {
    super(message);
    this.name = 'SignalingError';
    this.code = code;
    this.data = data;
  }
}

/**
 * Events: `welcome` (Welcome), `peer-joined` (Peer), `peer-updated` (partial Peer),
 * `peer-left` ({peer_id, reason}), `signal` (Signal), `game-update`, `chat-message`
 * (docs/protocol.md, "The game table"), `room-updated`, `knock`, `knock-cancelled`
 * (§7a, read by hosting.js), `signal-error` ({to, type, error}: a signal sent without
 * an ack was refused, §5), `state` (SignalingState),
 * `refused` (SignalingError, once the server will not have us back; code `kicked` when
 * the host removed us, `signed_out` when our account signed out everywhere).
 */
export class SignalingClient extends Emitter {
  /**
   * @param {string} [url] the server's origin; defaults to this page's
   * @param {{token?: string, transports?: string[]}} [options] token: for non-browser use
   */
  constructor(url = globalThis.location?.origin, options = {}) {
    super();
    this.url = url;
    this.options = options;
    /** @type {?import('../vendor/socket.io.esm.min.js').Socket} */
    this.socket = null;
    /** @type {SignalingState} */
    this.state = 'idle';
    this.peerId = null;
    this.roomId = null;
    this._resume = null;
    this._displayName = null;
    /** @type {Media} */
    this.media = { audio: true, video: true };
    this._serverDisconnects = 0;
    this._welcomed = false;
    /** @type {Array<[string, object]>} room events that came before this socket's welcome */
    this._early = [];
  }

  /**
   * Take a seat in a room. Resolves with the first `welcome`; rejects with a
   * SignalingError when the server refuses (room_full, unauthorized, ...).
   * @param {string} roomId
   * @param {{displayName?: string, media?: Media}} [options]
   * @returns {Promise<Welcome>}
   */
  connect(roomId, { displayName, media } = {}) {
    if (this.socket) throw new Error('already connected: call leave() first');
    this.roomId = roomId;
    this._welcomed = false;
    this._early = [];
    this._displayName = displayName || null;
    if (media) this.media = { ...media };
    const socket = io(`${this.url}/room/${roomId}`, {
      transports: this.options.transports ?? ['websocket'],
      // A function, so that every reconnect presents the latest seat and secret.
      auth: (callback) => callback(this._auth()),
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
      randomizationFactor: 0.3,
      forceNew: true,
    });
    this.socket = socket;
    this._setState('connecting');
    return new Promise((resolve, reject) => {
      let settled = false;
      socket.on('welcome', (welcome) => {
        this.peerId = welcome.peer_id;
        this._resume = welcome.resume;
        this._serverDisconnects = 0;
        this._setState('connected');
        if (!settled) { settled = true; resolve(welcome); }
        this.emit('welcome', welcome);
        this._welcomed = true;
        const early = this._early;
        this._early = [];
        for (const [event, payload] of early) this._deliver(event, payload);
      });
      socket.on('connect_error', (err) => {
        if (socket.active) {
          console.info('rhystic: reconnect failed:', err.message);
          this._setState('reconnecting');  // the network; socket.io keeps trying
          return;
        }
        const error = new SignalingError(err.message, err.data?.message ?? err.message,
          err.data ?? {});
        this._teardown();
        socket.disconnect();
        if (!settled) { settled = true; reject(error); }
        this.emit('refused', error);
      });
      this._listen(socket);
    });
  }

  /** @param {import('../vendor/socket.io.esm.min.js').Socket} socket */
  _listen(socket) {
    // A server that seats several newcomers at once can tell us of a peer (or relay its
    // offer) before our own welcome: hold those back until the welcome, so that the
    // room is always read in the order welcome, then changes.
    for (const event of ['peer-joined', 'peer-updated', 'peer-left', 'signal',
      'game-update', 'chat-message', 'room-updated', 'knock', 'knock-cancelled',
      'signal-error']) {
      socket.on(event, (payload) => {
        if (this._welcomed) this._deliver(event, payload);
        else this._early.push([event, payload]);
      });
    }
    socket.on('disconnect', (reason) => {
      console.info('rhystic: signaling lost:', reason);
      this._welcomed = false;  // a reconnect starts with a welcome of its own
      this._early = [];
      if (!this.socket) return;
      this._setState('reconnecting');
      if (reason === 'io server disconnect') {
        // socket.io does not retry a disconnect the server chose; a restarting server
        // does that, so come back unless it keeps happening.
        this._serverDisconnects += 1;
        if (this._serverDisconnects > MAX_SERVER_DISCONNECTS) {
          const error = new SignalingError('disconnected', 'the server closed the connection');
          this._teardown();
          socket.disconnect();
          this.emit('refused', error);
          return;
        }
        setTimeout(() => this.socket?.connect(), 500 * this._serverDisconnects);
      }
    });
  }

  /** @param {string} event @param {object} payload a room event, in order */
  _deliver(event, payload) {
    const ended = ENDED_BY.get(payload?.reason);
    if (event === 'peer-left' && ended && this.peerId && payload.peer_id === this.peerId) {
      // The host removed us, or our account signed out everywhere. The server closes the
      // socket next and would refuse a reconnect, so don't try one.
      const socket = this.socket;
      this._teardown();
      socket?.disconnect();
      this.emit('refused', new SignalingError(payload.reason, ended));
      return;
    }
    this.emit(event, payload);
  }

  /** @returns {object} the Socket.IO auth for the next (re)connect */
  _auth() {
    const auth = { media: { ...this.media } };
    if (this.options.token) auth.token = this.options.token;
    if (this._displayName) auth.display_name = this._displayName;
    if (this.peerId && this._resume) {
      auth.peer_id = this.peerId;
      auth.resume = this._resume;
    }
    return auth;
  }

  /**
   * Relay an offer, answer or ICE candidate to one peer.
   * @param {string} to peer_id
   * @param {{type: 'offer'|'answer', sdp: string}|{type: 'ice', candidate: ?RTCIceCandidateInit}} message
   * @returns {Promise<void>} rejects with a SignalingError (e.g. code unknown_peer)
   */
  signal(to, message) {
    return this._request('signal', { to, ...message });
  }

  /**
   * Relay ICE candidates to one peer as `ice` signals of up to MAX_CANDIDATES each, sent
   * without an ack: one frame each, nothing back (docs/protocol.md §5). A refusal comes
   * as the `signal-error` event; a candidate lost meanwhile costs a retry at worst.
   * @param {string} to peer_id
   * @param {RTCIceCandidateInit[]} candidates
   */
  sendCandidates(to, candidates) {
    if (!this.socket) return;
    for (let i = 0; i < candidates.length; i += MAX_CANDIDATES) {
      this.socket.emit('signal', { to, type: 'ice',
        candidates: candidates.slice(i, i + MAX_CANDIDATES) });
    }
  }

  /**
   * Tell the others about a new name or media state.
   * @param {{display_name?: string, media?: Media}} changes
   * @returns {Promise<void>}
   */
  update(changes) {
    if (changes.media) this.media = { ...this.media, ...changes.media };
    if (changes.display_name) this._displayName = changes.display_name;
    return this._request('update', changes.media
      ? { ...changes, media: { ...this.media } } : changes);
  }

  /**
   * Remove a player from the room (the room's creator only, see `welcome.owner`).
   * Everyone, that player included, then receives `peer-left` with reason `kicked`.
   * @param {string} peerId
   * @returns {Promise<void>} rejects with a SignalingError (forbidden, unknown_peer, ...)
   */
  kick(peerId) {
    return this._request('kick', { peer_id: peerId });
  }

  /**
   * Fresh TURN credentials.
   * @returns {Promise<{ice_servers: RTCIceServer[], ttl: ?number}>}
   */
  async requestIceServers() {
    const ack = await this._ack('ice-servers', {});
    return { ice_servers: ack.ice_servers, ttl: ack.ttl };
  }

  /**
   * Give up the seat now (the others see peer-left at once) and disconnect.
   * The `leave` frame goes out synchronously, so this works from `pagehide` too;
   * the socket closes once the server has acknowledged it (the server handles events
   * concurrently, so a close sent right behind `leave` could overtake it).
   * @returns {Promise<void>} resolved when the socket is closed
   */
  leave() {
    const socket = this.socket;
    if (!socket) return Promise.resolve();
    this._teardown();
    if (!socket.connected) {
      socket.disconnect();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      socket.timeout(LEAVE_TIMEOUT_MS).emit('leave', {}, () => {
        socket.disconnect();
        resolve();
      });
    });
  }

  /** Forget the socket: no more events from it, and no reconnecting. */
  _teardown() {
    const socket = this.socket;
    this.socket = null;
    this.peerId = null;
    this._resume = null;
    if (socket) {
      socket.removeAllListeners();
      socket.io.reconnection(false);
    }
    this._setState('closed');
  }

  /** @param {SignalingState} state */
  _setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.emit('state', state);
  }

  /**
   * Send any other room event (the game table's, say: game.js) and resolve with its ack.
   * @param {string} event @param {object} payload
   * @returns {Promise<object>} the ack; rejects with a SignalingError
   */
  request(event, payload) {
    return this._ack(event, payload);
  }

  async _request(event, payload) {
    await this._ack(event, payload);
  }

  async _ack(event, payload) {
    if (!this.socket) throw new SignalingError('not_joined', 'not connected to a room');
    let ack;
    try {
      ack = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
    } catch {
      throw new SignalingError('timeout', `no answer to '${event}' from the server`);
    }
    if (!ack?.ok) {
      throw new SignalingError(ack?.error?.code ?? 'internal',
        ack?.error?.message ?? 'the server refused the message');
    }
    return ack;
  }
}
