/**
 * A second camera per seat (the player's face, or a close-up of their hands): a second
 * video track on the same peer connection, beside the table camera. Its role is
 * announced over the data channel by the transceiver's `mid` (docs/protocol.md §9,
 * `tracks`), so that any client can tell the two apart. It travels small (180 rows)
 * unless the viewer shows it big. No DOM.
 * @module facecam
 */

/** What the second camera is opened at: it is never read, only seen. */
export const FACE_CAPTURE = { width: 640, height: 360, fps: 15 };
/** Rows and kbit/s it is sent at, small (an inset) and big (the viewer swapped it). */
const SMALL = { height: 180, kbps: 300 };
const BIG = { height: 360, kbps: 800 };

/**
 * @param {?import('./peerlink.js').ViewHint} view what the viewer shows (face_big)
 * @param {MediaStreamTrack} track the face track
 * @returns {import('./bandwidth.js').Caps}
 */
export function faceCaps(view, track) {
  const size = view?.face_big ? BIG : SMALL;
  const height = track.getSettings?.().height ?? 0;
  return {
    maxBitrate: size.kbps * 1000,
    scaleResolutionDownBy: height > size.height ? height / size.height : 1,
    maxFramerate: FACE_CAPTURE.fps,
  };
}

/**
 * Whether a received video transceiver carries the sender's face camera: as the
 * sender announced, or, before it has, any video after the first (a sender adds its
 * table camera first).
 * @param {RTCPeerConnection} pc
 * @param {RTCRtpTransceiver} transceiver
 * @param {?Record<string, string>} roles mid -> 'table' | 'face', as announced
 * @returns {boolean}
 */
export function isFace(pc, transceiver, roles) {
  if (roles && transceiver.mid && roles[transceiver.mid]) return roles[transceiver.mid] === 'face';
  const videos = pc.getTransceivers().filter((t) => t.receiver.track.kind === 'video'
    && t.mid !== null);
  return videos.indexOf(transceiver) > 0;
}

/**
 * Our `tracks` message: the mid of each video we send, and its role.
 * @param {RTCPeerConnection} pc
 * @param {?RTCRtpSender} faceSender
 * @returns {?{type: 'tracks', roles: Record<string, string>}} null before negotiation
 */
export function rolesMessage(pc, faceSender) {
  const roles = {};
  for (const t of pc.getTransceivers()) {
    if (!t.mid || t.receiver.track.kind !== 'video' || !/send/.test(t.direction)) continue;
    roles[t.mid] = t.sender === faceSender ? 'face' : 'table';
  }
  return Object.keys(roles).length ? { type: 'tracks', roles } : null;
}

/**
 * A `tracks` message as a role map, with anything malformed left out.
 * @param {object} message
 * @returns {?Record<string, string>}
 */
export function readRoles(message) {
  if (!message.roles || typeof message.roles !== 'object') return null;
  const roles = {};
  for (const [mid, role] of Object.entries(message.roles).slice(0, 8)) {
    if (mid.length <= 16 && (role === 'table' || role === 'face')) roles[mid] = role;
  }
  return roles;
}

/**
 * One link's second cameras: the sender of ours, the stream of theirs, and the roles
 * they announced. The link (link.js) calls in at its few moments: an offer or answer
 * made, a track received, the channel open, a negotiation done.
 */
export class FaceTracks {
  /** @param {import('./link.js').Link} link */
  constructor(link) {
    this.link = link;
    /** @type {?RTCRtpSender} */
    this.sender = null;
    this.stream = new MediaStream();
    /** @type {?Record<string, string>} */
    this.roles = null;
  }

  /** A new peer connection (first-contact glare): nothing of the old one holds. */
  reset() {
    this.sender = null;
    this.roles = null;
  }

  /**
   * Send our second camera (a new m-line, so a renegotiation), swap it, or stop it.
   * @param {?MediaStreamTrack} track
   */
  set(track) {
    if (this.link.closed) return;
    if (this.sender) {
      this.sender.replaceTrack(track).catch(() => {});
    } else if (track) {
      this.sender = this.link.pc.addTrack(track, new MediaStream([track]));
    }
  }

  /** @param {RTCRtpTransceiver} transceiver @returns {boolean} */
  isFace(transceiver) {
    return isFace(this.link.pc, transceiver, this.roles);
  }

  /** @param {MediaStreamTrack} track their second camera */
  receive(track) {
    this.stream.getTracks().forEach((old) => this.stream.removeTrack(old));
    this.stream.addTrack(track);
    this.link.client.emit('face', this.link.peerId, this.stream);
  }

  sendRoles() {
    const message = rolesMessage(this.link.pc, this.sender);
    if (message) this.link.peerLink?.send(message);
  }

  /** Their `tracks` message: move a track that was taken for the other camera. */
  takeRoles(message) {
    const roles = readRoles(message);
    if (!roles) return;
    this.roles = roles;
    const { pc, remote } = this.link;
    for (const transceiver of pc.getTransceivers()) {
      const track = transceiver.receiver.track;
      if (track.kind !== 'video' || !transceiver.mid || !roles[transceiver.mid]) continue;
      const face = roles[transceiver.mid] === 'face';
      if (face && remote.getTracks().includes(track)) {
        remote.removeTrack(track);
        this.receive(track);
      } else if (!face && this.stream.getTracks().includes(track)) {
        this.stream.removeTrack(track);
        remote.getVideoTracks().forEach((old) => remote.removeTrack(old));
        remote.addTrack(track);
        this.link.client.onTrack(remote, this.link.peerId);
      }
    }
  }
}
