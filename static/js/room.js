/**
 * Joining and leaving a room, and the list of who is in it. Ties signaling to the
 * peer connections: the newcomer offers, existing peers wait (docs/protocol.md §9).
 * @module room
 */
import { Emitter } from './emitter.js';
import { openLocalMedia } from './media.js';

/**
 * @typedef {import('./signaling.js').Peer} Peer
 * @typedef {import('./signaling.js').Welcome} Welcome
 * @typedef {import('./signaling.js').Media} Media
 * @typedef {import('./media.js').MediaChoice} MediaChoice
 */

/**
 * Events: `welcome` (Welcome), `peer-added` (Peer), `peer-updated` (Peer),
 * `peer-removed` (peerId, reason), `room-updated` (room: the host or the room's
 * settings changed, docs/protocol.md §7a), `state` (signaling state), `refused` (error).
 */
export class RoomClient extends Emitter {
  /**
   * @param {import('./signaling.js').SignalingClient} signaling
   * @param {import('./webrtc.js').WebRTCClient} webrtc
   */
  constructor(signaling, webrtc) {
    super();
    this.signaling = signaling;
    this.webrtc = webrtc;
    /** @type {Map<string, Peer>} */
    this.peers = new Map();
    /** @type {?Peer} */
    this.self = null;
    /** @type {?Welcome['room']} */
    this.room = null;
    /** We host this room (we created it, or the role passed to us): we may remove players. */
    this.owner = false;
    /** @type {?MediaStream} */
    this.stream = null;
    this._ownStream = false;
    this._unsubscribe = [];
    this._onPageHide = () => this.leaveRoom();
  }

  /**
   * Take a seat: open the camera (unless a stream is given), connect, and start
   * offering to everyone already there. Resolves with the local stream.
   * @param {string} roomId
   * @param {{displayName?: string, stream?: MediaStream, media?: MediaChoice,
   *          voiceElsewhere?: boolean}} [options] voiceElsewhere: the player talks
   *   over another app and opened no microphone (media.voice_elsewhere, protocol.md §4)
   * @returns {Promise<MediaStream>}
   */
  async joinRoom(roomId, { displayName, stream, media, voiceElsewhere = false } = {}) {
    this._ownStream = !stream;
    this.stream = stream ?? (await openLocalMedia(media)).stream;
    this.webrtc.setLocalStream(this.stream);
    this._subscribe();
    const mediaState = {
      audio: this.stream.getAudioTracks().some((t) => t.enabled),
      video: this.stream.getVideoTracks().some((t) => t.enabled),
      ...(voiceElsewhere ? { voice_elsewhere: true } : {}),
    };
    try {
      await this.signaling.connect(roomId, { displayName, media: mediaState });
    } catch (error) {
      this._cleanup();
      throw error;
    }
    globalThis.addEventListener?.('pagehide', this._onPageHide);
    return this.stream;
  }

  /** Give up the seat; the others see this player leave at once. */
  leaveRoom() {
    globalThis.removeEventListener?.('pagehide', this._onPageHide);
    this.signaling.leave();
    for (const peerId of [...this.peers.keys()]) this._remove(peerId, 'left');
    this._cleanup();
  }

  /**
   * Mute, unmute, camera off and on: the tracks, and the others' badges.
   * @param {Partial<Media>} media
   */
  async setMedia(media) {
    for (const [kind, on] of Object.entries(media)) {
      for (const track of this.stream?.getTracks() ?? []) {
        if (track.kind === kind) track.enabled = on;
      }
    }
    if (this.self) this.self = { ...this.self, media: { ...this.self.media, ...media } };
    await this.signaling.update({ media }).catch(() => {});
  }

  /**
   * Remove a player from the room (only the host may). Their tile goes when
   * the server's `peer-left` arrives, for us as for everyone else.
   * @param {string} peerId
   * @returns {Promise<void>}
   */
  kick(peerId) {
    return this.signaling.kick(peerId);
  }

  /** @returns {Peer[]} everyone else, in the order they joined */
  peerList() {
    return [...this.peers.values()];
  }

  _subscribe() {
    const on = (event, handler) => this._unsubscribe.push(this.signaling.on(event, handler));
    on('welcome', (welcome) => this._onWelcome(welcome));
    on('peer-joined', (peer) => this._onPeerJoined(peer));
    on('peer-updated', (change) => this._onPeerUpdated(change));
    on('peer-left', ({ peer_id: peerId, reason }) => this._remove(peerId, reason));
    on('room-updated', (update) => this._onRoomUpdated(update));
    on('state', (state) => this.emit('state', state));
    on('refused', (error) => this.emit('refused', error));
    this._unsubscribe.push(this.webrtc.on('peer-gone', (peerId) => this._remove(peerId, 'gone')));
  }

  /** @param {Welcome} welcome every welcome: the first, and each one after a reconnect */
  _onWelcome(welcome) {
    const seatLost = this.self && this.self.peer_id !== welcome.peer_id;
    this.webrtc.configure(welcome);  // closes every link if our seat is a new one
    this.self = welcome.self;
    this.room = welcome.room;
    this.owner = welcome.owner === true;
    const listed = new Set(welcome.peers.map((peer) => peer.peer_id));
    if (seatLost) {
      // Our old seat ran out: the others were told we left. Start afresh.
      for (const peerId of [...this.peers.keys()]) {
        if (!listed.has(peerId)) this._remove(peerId, 'timeout');
      }
    }
    // After a resume, peers missing from the list may simply not be back yet (a
    // server restart): their tiles stay, and the media link tells us if they are gone.
    for (const peer of welcome.peers) this._upsert(peer);
    // Offer to each of them; a working link is kept, and one still waiting for an
    // offer sends its own (webrtc.connect).
    for (const peer of welcome.peers) this.webrtc.connect(peer.peer_id, { offer: true });
    this.webrtc.applyCaps();
    this.emit('welcome', welcome);
  }

  /** The host changed the room's settings, or the host role passed on (§7a). */
  _onRoomUpdated({ host, locked, knock }) {
    this.room = { ...this.room, host, locked, knock };
    this.owner = Boolean(this.self) && host === this.self.user_id;
    this.emit('room-updated', this.room);
  }

  /** @param {Peer} peer a newcomer, or one we know whose server restarted */
  _onPeerJoined(peer) {
    this._upsert(peer);
    if (!this.webrtc.hasWorkingLink(peer.peer_id)) {
      this.webrtc.connect(peer.peer_id, { offer: false });  // the newcomer offers
    }
    this.webrtc.applyCaps();
  }

  _onPeerUpdated(change) {
    const peer = this.peers.get(change.peer_id);
    if (!peer) return;
    const updated = { ...peer, ...change, media: { ...peer.media, ...(change.media ?? {}) } };
    this.peers.set(peer.peer_id, updated);
    this.emit('peer-updated', updated);
  }

  /** @param {Peer} peer */
  _upsert(peer) {
    const known = this.peers.has(peer.peer_id);
    this.peers.set(peer.peer_id, { ...(this.peers.get(peer.peer_id) ?? {}), ...peer });
    this.emit(known ? 'peer-updated' : 'peer-added', this.peers.get(peer.peer_id));
  }

  _remove(peerId, reason) {
    this.webrtc.close(peerId);
    if (this.peers.delete(peerId)) this.emit('peer-removed', peerId, reason);
  }

  _cleanup() {
    for (const unsubscribe of this._unsubscribe) unsubscribe();
    this._unsubscribe = [];
    this.webrtc.shutdown();
    if (this._ownStream) this.stream?.getTracks().forEach((track) => track.stop());
    this.self = null;
  }
}
