/**
 * The peer connections of a call, one per remote peer (a Link, link.js): made and
 * closed as players come and go, signals routed to them, ICE servers and their TURN
 * refresh, bandwidth caps and the stats timer. No DOM code; the UI listens to events.
 * @module webrtc
 */
import { allocate } from './bandwidth.js';
import { Emitter } from './emitter.js';
import { Link } from './link.js';

/**
 * @typedef {import('./signaling.js').SignalingClient} SignalingClient
 * @typedef {import('./signaling.js').Welcome} Welcome
 * @typedef {import('./link.js').LinkState} LinkState
 * @typedef {import('./linkhealth.js').LinkStats} LinkStats
 * @typedef {{connectTimeoutMs?: number, disconnectGraceMs?: number,
 *            statsIntervalMs?: number, offerWaitMs?: number, retryBaseMs?: number,
 *            retryMaxMs?: number}} WebRTCConfig
 */

/**
 * connectTimeoutMs: how long one attempt at a link may take before it is called failed;
 * disconnectGraceMs: how long a link may be 'disconnected' before an ICE restart;
 * offerWaitMs: how long a link told of a newcomer waits for its offer before making
 * one itself; retryBaseMs, retryMaxMs: the backoff between attempts (linkhealth.js);
 * candidateBatchMs: how long a link gathers ICE candidates to send them together.
 * docs/protocol.md §9 gives these timings to other clients.
 */
const DEFAULTS = {
  connectTimeoutMs: 15000, disconnectGraceMs: 2500, statsIntervalMs: 2000,
  offerWaitMs: 5000, retryBaseMs: 2000, retryMaxMs: 30000, candidateBatchMs: 30,
};

/**
 * Events: `link-state` (peerId, LinkState), `stats` (peerId, LinkStats), `peer-link`
 * (peerId, PeerLink, Link: a data channel made), `face` (peerId, MediaStream: their
 * second camera),
 * `peer-gone` (peerId: the server says there is no such seat), `link-closed` (peerId).
 * Set `onTrack = (stream, peerId) => ...` to receive each peer's media.
 */
export class WebRTCClient extends Emitter {
  /**
   * @param {SignalingClient} signaling
   * @param {WebRTCConfig} [config]
   */
  constructor(signaling, config = {}) {
    super();
    this.signaling = signaling;
    this.config = { ...DEFAULTS, ...config };
    /** @type {Map<string, Link>} */
    this.links = new Map();
    /** @type {?MediaStream} */
    this.localStream = null;
    /** @type {RTCConfiguration} */
    this.rtcConfig = { iceServers: [], iceTransportPolicy: 'all' };
    this.selfId = null;
    /** Our second camera (facecam.js), sent on every link beside the table camera. */
    this.faceTrack = null;
    /** The peer whose table we spotlight; its sender may send us more. */
    this.spotlightPeer = null;
    /** @type {(stream: MediaStream, peerId: string) => void} */
    this.onTrack = () => {};
    this._refreshTimer = null;
    this._statsTimer = null;
    signaling.on('signal', (signal) => this._onSignal(signal));
    // Candidates go without an ack; a refusal comes back on its own (protocol.md §5).
    signaling.on('signal-error', ({ to, error }) => {
      if (error?.code === 'unknown_peer' && to) this.emit('peer-gone', to);
    });
  }

  /** @param {MediaStream} stream the local camera and microphone */
  setLocalStream(stream) {
    this.localStream = stream;
  }

  /**
   * Adopt a `welcome`: our peer id and the ICE servers; schedules the TURN refresh.
   * @param {Welcome} welcome
   */
  configure(welcome) {
    if (this.selfId && this.selfId !== welcome.peer_id) this.closeAll();
    this.selfId = welcome.peer_id;
    this.rtcConfig = {
      iceServers: welcome.ice_servers ?? [],
      iceTransportPolicy: welcome.ice_transport_policy === 'relay' ? 'relay' : 'all',
    };
    this._applyIceServers();
    this._scheduleRefresh(welcome.ice_servers_ttl);
    if (!this._statsTimer) {
      this._statsTimer = setInterval(() => this._collectStats(), this.config.statsIntervalMs);
    }
  }

  /**
   * Make sure there is a link to a peer. The newcomer offers (`offer: true`); an
   * existing peer creates the link and waits for the offer.
   * @param {string} peerId
   * @param {{offer?: boolean}} [options]
   */
  connect(peerId, { offer = false } = {}) {
    const existing = this.links.get(peerId);
    if (existing && existing.working()) {
      // A link still waiting for an offer, for a peer our welcome says we must offer
      // to: that offer may never come (the peer got no word of us), so make it.
      if (offer) existing.offer();
      return existing;
    }
    existing?.close();
    const link = new Link(this, peerId, offer);
    this.links.set(peerId, link);
    return link;
  }

  /** @param {string} peerId @returns {boolean} a link that is up or on its way up */
  hasWorkingLink(peerId) {
    return Boolean(this.links.get(peerId)?.working());
  }

  /** @param {string} peerId @returns {?LinkState} */
  linkState(peerId) {
    return this.links.get(peerId)?.state ?? null;
  }

  /** @param {string} peerId @returns {?MediaStream} what this peer sends us */
  remoteStream(peerId) {
    return this.links.get(peerId)?.remote ?? null;
  }

  /** @param {string} peerId */
  close(peerId) {
    const link = this.links.get(peerId);
    if (!link) return;
    this.links.delete(peerId);
    link.close();
    this.emit('link-closed', peerId);
    this.applyCaps();
  }

  closeAll() {
    for (const peerId of [...this.links.keys()]) this.close(peerId);
  }

  /** Close everything and stop timers: the end of a call. */
  shutdown() {
    this.closeAll();
    clearTimeout(this._refreshTimer);
    clearInterval(this._statsTimer);
    this._statsTimer = null;
    this.selfId = null;
  }

  /**
   * Swap the camera or microphone on every link, without renegotiation.
   * @param {'audio'|'video'} kind
   * @param {?MediaStreamTrack} track
   */
  async replaceTrack(kind, track) {
    const stream = this.localStream;
    if (stream) {
      for (const old of stream.getTracks().filter((t) => t.kind === kind)) {
        stream.removeTrack(old);
      }
      if (track) stream.addTrack(track);
    }
    await Promise.all([...this.links.values()].map((link) => link.replaceTrack(kind, track)));
    this.applyCaps();
  }

  /**
   * Send a second camera (facecam.js) on every link, now and to newcomers; null stops.
   * @param {?MediaStreamTrack} track
   */
  setFaceTrack(track) {
    this.faceTrack = track;
    for (const link of this.links.values()) link.setFace(track);
  }

  /**
   * Spotlight one peer's table (or none): that peer may then send us more.
   * @param {?string} peerId
   */
  setSpotlight(peerId) {
    this.spotlightPeer = peerId;
    for (const link of this.links.values()) link.sendSpotlight();
  }

  /**
   * Re-apply the bitrate and resolution caps on every link: the peer count, or what a
   * viewer shows of our table, changed (bandwidth.js allocates the upload budget).
   */
  applyCaps() {
    const links = [...this.links.values()];
    const track = this.localStream?.getVideoTracks()[0];
    const settings = track?.getSettings?.() ?? {};
    const caps = allocate(links.map((link) => link.inView),
      { width: settings.width ?? 0, height: settings.height ?? 0, fps: settings.frameRate ?? 0 });
    links.forEach((link, i) => link.applyCaps(caps[i]));
  }

  _onSignal(signal) {
    if (!signal?.from) return;
    let link = this.links.get(signal.from);
    if (!link || link.closed) {
      if (signal.type !== 'offer') return;  // stale: a link we closed already
      link = this.connect(signal.from, { offer: false });
    }
    link.handle(signal);
  }

  _applyIceServers() {
    for (const link of this.links.values()) link.setConfiguration(this.rtcConfig);
  }

  _scheduleRefresh(ttlSeconds) {
    clearTimeout(this._refreshTimer);
    if (!ttlSeconds) return;
    // Ask again at 80 % of the lifetime, as the protocol suggests.
    this._refreshTimer = setTimeout(() => this._refreshIceServers(ttlSeconds),
      ttlSeconds * 800);
  }

  async _refreshIceServers(lastTtl) {
    try {
      const fresh = await this.signaling.requestIceServers();
      this.rtcConfig = { ...this.rtcConfig, iceServers: fresh.ice_servers };
      this._applyIceServers();
      this._scheduleRefresh(fresh.ttl);
    } catch {
      this._refreshTimer = setTimeout(() => this._refreshIceServers(lastTtl), 30000);
    }
  }

  async _collectStats() {
    await Promise.all([...this.links.values()].map((link) => link.collectStats()));
  }
}
