/**
 * One RTCPeerConnection per remote peer: perfect negotiation, trickle ICE, ICE
 * restarts, TURN refresh and bandwidth caps. The data channel beside the media is
 * peerlink.js. No DOM code; the UI listens to events.
 * @module webrtc
 */
import { capsFor } from './bandwidth.js';
import { Emitter } from './emitter.js';
import { PeerLink } from './peerlink.js';

/**
 * @typedef {import('./signaling.js').SignalingClient} SignalingClient
 * @typedef {import('./signaling.js').Signal} Signal
 * @typedef {import('./signaling.js').Welcome} Welcome
 * @typedef {'connecting'|'connected'|'reconnecting'|'failed'} LinkStatus
 * @typedef {{status: LinkStatus, route: ?('direct'|'relay'), reason: ?string}} LinkState
 * @typedef {{route: ?string, rttMs: ?number, fps: ?number, kbps: ?number,
 *            framesDecoded: number}} LinkStats
 * @typedef {{connectTimeoutMs?: number, disconnectGraceMs?: number,
 *            statsIntervalMs?: number}} WebRTCConfig
 */

const DEFAULTS = { connectTimeoutMs: 15000, disconnectGraceMs: 2500, statsIntervalMs: 2000 };
const KINDS = ['audio', 'video'];
const RESTART_MIN_GAP_MS = 5000;

/**
 * Why a link failed, in words a player understands; the UI puts the name in front.
 * @type {Record<string, string>}
 */
export const FAILURE_REASONS = {
  'no-route': 'no direct route and no relay available',
  'relay-refused': 'no direct route and no relay available (the relay server refused '
    + 'our credentials)',
  'relay-unreachable': 'no direct route and no relay available (the relay server '
    + 'does not answer)',
  'no-relay-configured': 'no direct route, and this server has no relay configured',
};

/**
 * Events: `link-state` (peerId, LinkState), `stats` (peerId, LinkStats),
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
    /** The peer whose table we spotlight; its sender may send us more. */
    this.spotlightPeer = null;
    /** @type {(stream: MediaStream, peerId: string) => void} */
    this.onTrack = () => {};
    this._refreshTimer = null;
    this._statsTimer = null;
    signaling.on('signal', (signal) => this._onSignal(signal));
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
   * Spotlight one peer's table (or none): that peer may then send us more.
   * @param {?string} peerId
   */
  setSpotlight(peerId) {
    this.spotlightPeer = peerId;
    for (const link of this.links.values()) link.sendSpotlight();
  }

  /** Re-apply the bitrate and resolution caps on every link (the peer count changed). */
  applyCaps() {
    const links = [...this.links.values()];
    const spotlighters = links.filter((link) => link.boostWanted).length;
    const track = this.localStream?.getVideoTracks()[0];
    const settings = track?.getSettings?.() ?? {};
    for (const link of links) {
      link.applyCaps(capsFor(links.length, spotlighters, link.boostWanted,
        settings.height ?? 0, settings.frameRate ?? 0));
    }
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

/** One peer connection and its perfect-negotiation state. */
class Link {
  /**
   * @param {WebRTCClient} client
   * @param {string} peerId
   * @param {boolean} initiator we send the first offer
   */
  constructor(client, peerId, initiator) {
    this.client = client;
    this.peerId = peerId;
    this.mayOffer = initiator;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.answerPending = false;
    this.closed = false;
    /** @type {RTCIceCandidateInit[]} candidates that came before the remote description */
    this.earlyCandidates = [];
    this.queue = Promise.resolve();
    this.remote = new MediaStream();
    /** @type {LinkState} */
    this.state = { status: 'connecting', route: null, reason: null };
    this.gathered = new Set();
    this.turnErrors = [];
    this.restarts = 0;
    this.lastRestart = 0;
    this.boostWanted = false;
    this.lastInbound = null;
    this.pc = new RTCPeerConnection(client.rtcConfig);
    this._wire();
    this.connectTimer = setTimeout(() => this._giveUp(), client.config.connectTimeoutMs);
    if (initiator) this._addLocalMedia();
  }

  /** Of two peers, the smaller peer_id is polite (docs/protocol.md section 9). Read
   * when needed: a link made before our welcome did not know our id yet. */
  get polite() {
    return this.client.selfId !== null && this.client.selfId < this.peerId;
  }

  working() {
    return !this.closed && !['failed', 'closed'].includes(this.pc.connectionState);
  }

  /** Become the offering side, unless negotiation has begun either way. */
  offer() {
    if (this.mayOffer || this.closed || this.pc.localDescription || this.pc.remoteDescription) {
      return;
    }
    this.mayOffer = true;
    this._addLocalMedia();  // fires negotiationneeded, which sends the offer
  }

  _wire() {
    const pc = this.pc;
    pc.onnegotiationneeded = () => this._negotiate();
    pc.onicecandidate = ({ candidate }) => {
      if (!candidate) return;
      this.gathered.add(candidate.type);
      this._send({ type: 'ice', candidate: candidate.toJSON() });
    };
    pc.onicecandidateerror = (event) => {
      this.turnErrors.push({ code: event.errorCode, url: event.url, text: event.errorText });
    };
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === 'complete') this._checkGathering();
    };
    pc.ontrack = ({ track }) => {
      for (const old of this.remote.getTracks().filter((t) => t.kind === track.kind)) {
        this.remote.removeTrack(old);
      }
      this.remote.addTrack(track);
      this.client.onTrack(this.remote, this.peerId);
    };
    pc.oniceconnectionstatechange = () => this._onIceState();
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed') this._onIceState();
    };
    pc.onsignalingstatechange = () => {
      if (pc.signalingState === 'stable') this.client.applyCaps();
    };
  }

  /**
   * The offering side: one sendrecv transceiver per kind, even without a track.
   * Tracks go in with addTrack, not addTransceiver: if the other side offers at the
   * same moment and we roll ours back (the polite peer), its offer then reuses these
   * transceivers, instead of leaving them behind for a second round that would add
   * duplicate m-lines.
   */
  _addLocalMedia() {
    const stream = this.client.localStream;
    for (const kind of KINDS) {
      const track = stream?.getTracks().find((t) => t.kind === kind) ?? null;
      if (track) this.pc.addTrack(track, stream);
      else this.pc.addTransceiver(kind, { direction: 'sendrecv' });
    }
    this._openChannel();
  }

  /** The answerer's side: send on the transceivers the offer created. */
  _answerWithLocalMedia() {
    const stream = this.client.localStream;
    for (const transceiver of this.pc.getTransceivers()) {
      if (transceiver.sender.track || transceiver.currentDirection) continue;
      const kind = transceiver.receiver.track.kind;
      const track = stream?.getTracks().find((t) => t.kind === kind) ?? null;
      transceiver.direction = 'sendrecv';
      if (track) transceiver.sender.replaceTrack(track);
      if (stream) transceiver.sender.setStreams?.(stream);
    }
    this._openChannel();
  }

  _openChannel() {
    if (this.peerLink) return;
    this.peerLink = new PeerLink(this.pc);
    this.peerLink.on('open', () => this.sendSpotlight());
    this.peerLink.on('spotlight', (on) => {
      this.boostWanted = on;
      this.client.applyCaps();
    });
  }

  sendSpotlight() {
    this.peerLink?.sendSpotlight(this.client.spotlightPeer === this.peerId);
  }

  async _negotiate() {
    if (!this.mayOffer || this.closed) return;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      await this._send({ type: 'offer', sdp: this.pc.localDescription.sdp });
    } catch (error) {
      console.warn('rhystic: offer failed', this.peerId, error);
    } finally {
      this.makingOffer = false;
    }
  }

  /** @param {Signal} signal processed strictly in order, one at a time */
  handle(signal) {
    this.queue = this.queue.then(() => this._handle(signal)).catch((error) => {
      console.warn('rhystic: signal failed', this.peerId, signal.type, error);
    });
  }

  async _handle(signal) {
    if (this.closed) return;
    const pc = this.pc;
    if (signal.type === 'ice') {
      if (!signal.candidate) return;  // end-of-candidates needs nothing from us
      if (!pc.remoteDescription) {
        this.earlyCandidates.push(signal.candidate);
        return;
      }
      try {
        await pc.addIceCandidate(signal.candidate);
      } catch (error) {
        if (!this.ignoreOffer) throw error;
      }
      return;
    }
    const description = { type: signal.type, sdp: signal.sdp };
    const readyForOffer = !this.makingOffer
      && (pc.signalingState === 'stable' || this.answerPending);
    const collision = description.type === 'offer' && !readyForOffer;
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    this.answerPending = description.type === 'answer';
    await pc.setRemoteDescription(description);  // rolls back our offer if need be
    this.answerPending = false;
    await this._flushEarlyCandidates();
    if (description.type === 'offer') {
      this._answerWithLocalMedia();
      await pc.setLocalDescription();
      await this._send({ type: 'answer', sdp: pc.localDescription.sdp });
      this.mayOffer = true;  // later renegotiation (an ICE restart) may start here
    }
  }

  async _flushEarlyCandidates() {
    const early = this.earlyCandidates;
    this.earlyCandidates = [];
    for (const candidate of early) {
      try {
        await this.pc.addIceCandidate(candidate);
      } catch (error) {
        console.warn('rhystic: early candidate refused', error);
      }
    }
  }

  async _send(message) {
    try {
      await this.client.signaling.signal(this.peerId, message);
    } catch (error) {
      if (error.code === 'unknown_peer') this.client.emit('peer-gone', this.peerId);
      // Anything else (a signaling outage) is retried by the next ICE restart.
    }
  }

  _onIceState() {
    if (this.closed) return;
    const ice = this.pc.iceConnectionState;
    if (ice === 'connected' || ice === 'completed') {
      clearTimeout(this.connectTimer);
      clearTimeout(this.restartTimer);
      this.restarts = 0;
      this._setState({ status: 'connected', reason: null });
      // The selected pair may lag the state change by a moment: look twice for the route.
      this.collectStats();
      setTimeout(() => this.collectStats(), 500);
    } else if (ice === 'disconnected') {
      this._setState({ status: 'reconnecting' });
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => {
        if (this.pc.iceConnectionState === 'disconnected') this._restartIce();
      }, this.client.config.disconnectGraceMs);
    } else if (ice === 'failed' || this.pc.connectionState === 'failed') {
      this._restartIce();
    }
  }

  _restartIce() {
    if (this.closed) return;
    // A link with no way through fails again at once: don't spin on it.
    const wait = this.lastRestart + RESTART_MIN_GAP_MS - Date.now();
    if (wait > 0) {
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => this._onIceState(), wait);
      return;
    }
    this.lastRestart = Date.now();
    this.restarts += 1;
    if (this.state.status !== 'failed') this._setState({ status: 'reconnecting' });
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => this._giveUp(), this.client.config.connectTimeoutMs);
    this.pc.restartIce();  // fires negotiationneeded: an offer with fresh ICE credentials
  }

  _checkGathering() {
    const relayOnly = this.client.rtcConfig.iceTransportPolicy === 'relay';
    if (relayOnly && !this.gathered.has('relay')) this._giveUp();
  }

  /** No way through: say why, and keep listening in case a restart finds one. */
  _giveUp() {
    if (this.closed || this.state.status === 'connected') return;
    this._setState({ status: 'failed', reason: this._failureReason() });
  }

  _failureReason() {
    const hasTurn = this.client.rtcConfig.iceServers.some((server) =>
      [].concat(server.urls).some((url) => /^turns?:/.test(url)));
    if (!hasTurn) return 'no-relay-configured';
    if (this.gathered.has('relay')) return 'no-route';
    if (this.turnErrors.some((e) => e.code === 401 || e.code === 403 || e.code === 438)) {
      return 'relay-refused';
    }
    if (this.turnErrors.length) return 'relay-unreachable';
    return 'no-route';
  }

  /** @param {Partial<LinkState>} change */
  _setState(change) {
    const next = { ...this.state, ...change };
    if (next.status === this.state.status && next.route === this.state.route
        && next.reason === this.state.reason) return;
    this.state = next;
    this.client.emit('link-state', this.peerId, next);
  }

  /** @param {'audio'|'video'} kind @param {?MediaStreamTrack} track */
  async replaceTrack(kind, track) {
    for (const transceiver of this.pc.getTransceivers()) {
      if (transceiver.receiver.track.kind !== kind || transceiver.stopped) continue;
      if (transceiver.direction === 'sendrecv' || transceiver.direction === 'sendonly') {
        await transceiver.sender.replaceTrack(track);
      }
    }
  }

  /** @param {import('./bandwidth.js').Caps} caps */
  async applyCaps(caps) {
    if (this.closed || this.pc.signalingState !== 'stable') return;
    for (const sender of this.pc.getSenders()) {
      if (sender.track?.kind !== 'video') continue;
      const params = sender.getParameters();
      if (!params.encodings?.length) continue;  // not negotiated yet
      const encoding = params.encodings[0];
      if (encoding.maxBitrate === caps.maxBitrate
          && encoding.scaleResolutionDownBy === caps.scaleResolutionDownBy
          && encoding.maxFramerate === caps.maxFramerate) continue;
      Object.assign(encoding, caps);
      try {
        await sender.setParameters(params);
      } catch (error) {
        console.warn('rhystic: could not cap the sender', error);
      }
    }
  }

  /** @param {RTCConfiguration} config fresh TURN credentials */
  setConfiguration(config) {
    try {
      this.pc.setConfiguration({ ...this.pc.getConfiguration(), ...config });
    } catch (error) {
      console.warn('rhystic: could not apply new ICE servers', error);
    }
  }

  async collectStats() {
    if (this.closed || this.pc.connectionState === 'new') return;
    let report;
    try { report = await this.pc.getStats(); } catch { return; }
    const byId = new Map();
    report.forEach((entry) => byId.set(entry.id, entry));
    let pair = null;
    let inbound = null;
    report.forEach((entry) => {
      if (entry.type === 'transport' && entry.selectedCandidatePairId) {
        pair = byId.get(entry.selectedCandidatePairId) ?? pair;
      } else if (entry.type === 'inbound-rtp' && entry.kind === 'video') {
        inbound = entry;
      }
    });
    const local = pair && byId.get(pair.localCandidateId);
    const remote = pair && byId.get(pair.remoteCandidateId);
    const route = local ? (local.candidateType === 'relay' || remote?.candidateType === 'relay'
      ? 'relay' : 'direct') : null;
    if (route && this.state.status === 'connected') this._setState({ route });
    const stats = {
      route,
      rttMs: pair?.currentRoundTripTime != null ? Math.round(pair.currentRoundTripTime * 1000)
        : null,
      fps: inbound?.framesPerSecond ?? null,
      kbps: null,
      framesDecoded: inbound?.framesDecoded ?? 0,
    };
    if (inbound && this.lastInbound) {
      const seconds = (inbound.timestamp - this.lastInbound.timestamp) / 1000;
      if (seconds > 0) {
        stats.kbps = Math.round(((inbound.bytesReceived - this.lastInbound.bytesReceived) * 8)
          / seconds / 1000);
      }
    }
    this.lastInbound = inbound;
    this.client.emit('stats', this.peerId, stats);
  }

  close() {
    this.closed = true;
    clearTimeout(this.connectTimer);
    clearTimeout(this.restartTimer);
    this.peerLink?.close();
    this.pc.close();
  }
}
