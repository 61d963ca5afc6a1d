/**
 * One RTCPeerConnection to one remote peer: perfect negotiation, trickle ICE, retries
 * with backoff (an ICE restart, or a fresh offer). The local media it sends and the caps
 * on it are linkmedia.js; the data channel beside the media is peerlink.js; failure
 * reasons, the retry schedule and stats reading are linkhealth.js. No DOM code.
 * @module link
 */
import { FaceTracks } from './facecam.js';
import { failureReason, readStats, retryDelay } from './linkhealth.js';
import { addLocalMedia, answerWithLocalMedia, applySenderCaps, replaceTrack } from './linkmedia.js';
import { PeerLink } from './peerlink.js';

/**
 * @typedef {import('./webrtc.js').WebRTCClient} WebRTCClient
 * @typedef {import('./signaling.js').Signal} Signal
 * @typedef {'connecting'|'connected'|'reconnecting'|'failed'} LinkStatus
 * @typedef {{status: LinkStatus, route: ?('direct'|'relay'), reason: ?string,
 *            attempt: number, retryAt: ?number}} LinkState
 *   `attempt`: tries made since the link was last up (0 for the first); `retryAt`: when
 *   a failed link tries again (a Date.now() time), null while a try is under way.
 */

/** One peer connection and its perfect-negotiation state. */
export class Link {
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
    this.answering = false;
    this.closed = false;
    /** @type {RTCIceCandidateInit[]} candidates that came before the remote description */
    this.earlyCandidates = [];
    this.queue = Promise.resolve();
    this.remote = new MediaStream();
    /** @type {LinkState} */
    this.state = { status: 'connecting', route: null, reason: null, attempt: 0, retryAt: null };
    /** Candidate types and TURN errors of the latest gathering, to say why it failed. */
    this.gathered = new Set();
    this.turnErrors = [];
    this.attempt = 0;
    /** What the viewer at the other end shows of our table (peerlink.js ViewHint). */
    this.inView = null;
    /** What we show of theirs, said again whenever the channel (re)opens. */
    this.outView = null;
    /** The second camera, ours and theirs (facecam.js). */
    this.faces = new FaceTracks(this);
    this.lastInbound = null;
    this.pc = new RTCPeerConnection(client.rtcConfig);
    this._wire();
    this.connectTimer = setTimeout(() => this._giveUp(), client.config.connectTimeoutMs);
    if (initiator) {
      this._addLocalMedia();
    } else {
      // The newcomer should offer at once; if its offer never comes (it was never told
      // of us, or the offer was lost), offer ourselves. A collision is settled by
      // perfect negotiation.
      this.offerWaitTimer = setTimeout(() => this.offer(), client.config.offerWaitMs);
    }
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
    if (this.closed || this.answering || this.pc.localDescription
        || this.pc.remoteDescription) return;
    if (this.mayOffer) {
      this._negotiate();  // we were to offer, and have not managed to
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
      this._queueCandidate(candidate.toJSON());
    };
    pc.onicecandidateerror = (event) => {
      this.turnErrors.push({ code: event.errorCode, url: event.url, text: event.errorText });
    };
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === 'gathering') {  // a new attempt: judge it on its own
        this.gathered = new Set();
        this.turnErrors = [];
      } else if (pc.iceGatheringState === 'complete') {
        this._checkGathering();
      }
    };
    pc.ontrack = ({ track, transceiver }) => {
      if (track.kind === 'video' && this.faces.isFace(transceiver)) {
        this.faces.receive(track);
        return;
      }
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
      if (pc.signalingState !== 'stable') return;
      this.client.applyCaps();
      this.faces.sendRoles();
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
    addLocalMedia(this);
    this._openChannel();
  }

  /** The answerer's side: send on the transceivers the offer created. */
  _answerWithLocalMedia() {
    answerWithLocalMedia(this);
    this._openChannel();
  }

  _openChannel() {
    if (this.peerLink) return;
    this.peerLink = new PeerLink(this.pc);
    this.peerLink.on('open', () => this.peerLink?.sendView(this._viewToSend()));
    this.peerLink.on('view', (view) => {
      this.inView = view;
      this.client.applyCaps();
    });
    this.peerLink.on('open', () => this.faces.sendRoles());
    this.peerLink.on('message', (message) => {
      if (message.type === 'tracks') this.faces.takeRoles(message);
    });
    this.client.emit('peer-link', this.peerId, this.peerLink, this);  // snapshot-ui.js
  }

  /** @param {?MediaStreamTrack} track our second camera on this link, or none */
  setFace(track) {
    this.faces.set(track);
  }

  /**
   * What we show of this peer's table (viewsize.js measures it); the spotlight is ours.
   * @param {?import('./peerlink.js').ViewHint} view
   */
  setView(view) {
    this.outView = view;
    this.peerLink?.sendView(this._viewToSend());
  }

  sendSpotlight() {
    this.peerLink?.sendView(this._viewToSend());
  }

  _viewToSend() {
    const spotlight = this.client.spotlightPeer === this.peerId;
    const view = this.outView ?? { width: 0, height: 0, fullscreen: false, zoom: 1 };
    return { ...view, spotlight: spotlight || Boolean(this.outView?.spotlight) };
  }

  async _negotiate() {
    // Not while answering: setLocalDescription() would then make the answer.
    if (!this.mayOffer || this.closed || this.makingOffer || this.answering) return;
    const pc = this.pc;
    try {
      this.makingOffer = true;
      await pc.setLocalDescription();
      const { type, sdp } = pc.localDescription;
      if (type === 'offer' && pc === this.pc) await this._send({ type, sdp });
    } catch (error) {
      if (pc === this.pc) console.warn('rhystic: offer failed', this.peerId, error);
    } finally {
      if (pc === this.pc) this.makingOffer = false;
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
    let pc = this.pc;
    if (signal.type === 'ice') {
      // One candidate, or a list (docs/protocol.md §5); end-of-candidates needs nothing.
      const candidates = signal.candidates ?? (signal.candidate ? [signal.candidate] : []);
      if (!pc.remoteDescription) {
        this.earlyCandidates.push(...candidates);
        return;
      }
      for (const candidate of candidates) {
        try {
          await pc.addIceCandidate(candidate);
        } catch (error) {  // one bad candidate must not cost the rest of its list
          if (!this.ignoreOffer) console.warn('rhystic: candidate refused', error);
        }
      }
      return;
    }
    const description = { type: signal.type, sdp: signal.sdp };
    if (description.type === 'answer' && pc.signalingState !== 'have-local-offer') {
      return;  // a second answer to an offer we sent twice (_retry), or a stale one
    }
    const readyForOffer = !this.makingOffer
      && (pc.signalingState === 'stable' || this.answerPending);
    const collision = description.type === 'offer' && !readyForOffer;
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    if (collision && !pc.currentRemoteDescription) pc = this._startAfresh();
    this.answerPending = description.type === 'answer';
    this.answering = description.type === 'offer';
    // The other end tries again before we do: its offer is this attempt, not ours too.
    if (this.answering && this.retryTimer) this._beginAttempt();
    try {
      await pc.setRemoteDescription(description);  // rolls back our offer if need be
      this.answerPending = false;
      await this._flushEarlyCandidates();
      if (description.type === 'offer') {
        this._answerWithLocalMedia();
        await pc.setLocalDescription();
        await this._send({ type: 'answer', sdp: pc.localDescription.sdp });
        this.mayOffer = true;  // later renegotiation (an ICE restart) may start here
        // Our second camera, on a link the other end offered: one more round.
        if (this.client.faceTrack && !this.faces.sender) this.faces.set(this.client.faceTrack);
      }
    } finally {
      this.answering = false;
    }
  }

  /**
   * First contact, and both ends offered: we are polite, but rather than roll our offer
   * back (Chromium has been seen to leave such a connection never gathering again, and
   * no ICE restart revived it), we answer on a new peer connection. Nothing had been
   * negotiated on the old one; the other end ignored its offer.
   * @returns {RTCPeerConnection}
   */
  _startAfresh() {
    this.peerLink?.close();
    this.peerLink = null;
    this.pc.close();
    this.pc = new RTCPeerConnection(this.client.rtcConfig);
    this.faces.reset();
    this.makingOffer = false;
    this.mayOffer = false;
    this.lastInbound = null;
    this._wire();
    return this.pc;
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
      // Anything else (a signaling outage) is made good by the next attempt.
    }
  }

  /**
   * Candidates found within `candidateBatchMs` of each other go out together, as one
   * `ice` signal without an ack (docs/protocol.md §5): a dozen candidates cost the
   * server one or two frames instead of two dozen. Sent after the offer or answer they
   * belong to, which the other end needs first anyway.
   * @param {RTCIceCandidateInit} candidate
   */
  _queueCandidate(candidate) {
    this.outgoingCandidates ??= [];
    this.outgoingCandidates.push(candidate);
    this.candidateTimer ??= setTimeout(() => {
      const batch = this.outgoingCandidates;
      this.outgoingCandidates = [];
      this.candidateTimer = null;
      if (!this.closed) this.client.signaling.sendCandidates(this.peerId, batch);
    }, this.client.config.candidateBatchMs);
  }

  _onIceState() {
    if (this.closed) return;
    const ice = this.pc.iceConnectionState;
    if (ice === 'connected' || ice === 'completed') {
      this._clearTimers();
      this.attempt = 0;
      this._setState({ status: 'connected', reason: null, attempt: 0, retryAt: null });
      // The selected pair may lag the state change by a moment: look twice for the route.
      this.collectStats();
      setTimeout(() => this.collectStats(), 500);
    } else if (ice === 'disconnected') {
      this._setState({ status: 'reconnecting' });
      clearTimeout(this.graceTimer);
      this.graceTimer = setTimeout(() => {
        if (this.pc.iceConnectionState === 'disconnected') this._retry();
      }, this.client.config.disconnectGraceMs);
    } else if (ice === 'failed' || this.pc.connectionState === 'failed') {
      this._giveUp();
    }
  }

  _checkGathering() {
    const relayOnly = this.client.rtcConfig.iceTransportPolicy === 'relay';
    if (relayOnly && !this.gathered.has('relay')) this._giveUp();
  }

  /**
   * This attempt found no way through (it timed out, ICE failed, or a relay-only link
   * got no relay candidate): say why, and when the next attempt comes.
   */
  _giveUp() {
    const up = ['connected', 'completed'].includes(this.pc.iceConnectionState)
      && this.pc.connectionState !== 'failed';
    if (this.closed || up || this.retryTimer) return;
    clearTimeout(this.connectTimer);
    const delay = retryDelay(this.attempt, this.client.config);
    this.retryTimer = setTimeout(() => this._retry(), delay);
    this._setState({
      status: 'failed', attempt: this.attempt, retryAt: Date.now() + delay,
      reason: failureReason(this.client.rtcConfig.iceServers, this.gathered, this.turnErrors,
        this.pc.iceGatheringState === 'complete'),
    });
  }

  /**
   * One more attempt, from wherever the link stopped. Never a second offer while one
   * is unanswered: signals carry no offer id, so an answer to the first would be taken
   * for the answer to the second, with the wrong ICE credentials.
   */
  _retry() {
    if (this.closed) return;
    this._beginAttempt();
    const pc = this.pc;
    if (!pc.localDescription && !pc.remoteDescription) {
      this.offer();  // no offer either way yet: we make it (a collision is settled)
    } else if (pc.signalingState === 'have-local-offer') {
      // Unanswered: send the same offer again, in case it was lost. A second answer
      // to it finds us stable and is dropped.
      this._send({ type: 'offer', sdp: pc.localDescription.sdp });
    } else if (pc.signalingState === 'stable' && pc.iceConnectionState !== 'checking') {
      this.mayOffer = true;
      pc.restartIce();  // fires negotiationneeded: an offer with fresh ICE credentials
    }
    // Otherwise checks are under way (ICE says 'failed' if none works), or an offer of
    // the other end's is being answered: this attempt waits for them.
  }

  /** A new attempt, ours or the other end's (its offer), gets a full timeout. */
  _beginAttempt() {
    this._clearTimers();
    this.attempt += 1;
    // A failed link stays 'failed' (and says why) until it is up again.
    const status = this.state.status === 'failed' ? 'failed' : 'reconnecting';
    this._setState({ status, attempt: this.attempt, retryAt: null });
    this.connectTimer = setTimeout(() => this._giveUp(), this.client.config.connectTimeoutMs);
  }

  _clearTimers() {
    for (const timer of ['connectTimer', 'retryTimer', 'graceTimer', 'offerWaitTimer']) {
      clearTimeout(this[timer]);
      this[timer] = null;
    }
  }

  /** @param {Partial<LinkState>} change */
  _setState(change) {
    const next = { ...this.state, ...change };
    if (Object.keys(next).every((key) => next[key] === this.state[key])) return;
    this.state = next;
    this.client.emit('link-state', this.peerId, next);
  }

  /** @param {'audio'|'video'} kind @param {?MediaStreamTrack} track */
  replaceTrack(kind, track) {
    return replaceTrack(this.pc, kind, track);
  }

  /**
   * Cap what this link sends. Calls are chained, so that each setParameters follows
   * its own getParameters, and only the latest caps are applied.
   * @param {import('./bandwidth.js').Caps} caps
   */
  applyCaps(caps) {
    this.wantedCaps = caps;
    this.capsChain = (this.capsChain ?? Promise.resolve()).then(() => applySenderCaps(this));
    return this.capsChain;
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
    const { stats, inbound } = readStats(report, this.lastInbound);
    this.lastInbound = inbound;
    if (stats.route && this.state.status === 'connected') this._setState({ route: stats.route });
    this.client.emit('stats', this.peerId, stats);
  }

  close() {
    this.closed = true;
    this._clearTimers();
    this.peerLink?.close();
    this.pc.close();
  }
}
