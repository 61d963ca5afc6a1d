/**
 * What one link sends: our camera and microphone on its transceivers, a track swapped
 * in place, and the caps on each video sender. Functions of a Link (link.js), which
 * keeps the negotiation; no DOM code.
 * @module linkmedia
 */
import { faceCaps } from './facecam.js';

/** @typedef {import('./link.js').Link} Link */

const KINDS = ['audio', 'video'];
// A table is read, not watched: under pressure drop frames, keep the size (media.js
// gives the track contentHint 'detail' for the same reason).
const DEGRADATION = 'maintain-resolution';

/** The offerer's side: one transceiver per kind, with our track or none yet. @param {Link} link */
export function addLocalMedia(link) {
  const stream = link.client.localStream;
  for (const kind of KINDS) {
    const track = stream?.getTracks().find((t) => t.kind === kind) ?? null;
    if (track) link.pc.addTrack(track, stream);
    else link.pc.addTransceiver(kind, { direction: 'sendrecv' });
  }
  if (link.client.faceTrack) link.faces.set(link.client.faceTrack);
}

/** The answerer's side: send on the transceivers the offer created. @param {Link} link */
export function answerWithLocalMedia(link) {
  const { pc } = link;
  const stream = link.client.localStream;
  // One transceiver per kind carries our camera and microphone; the kinds already
  // sending (a renegotiation) count.
  const sent = new Set(pc.getTransceivers().filter((t) => t.currentDirection
    && /send/.test(t.currentDirection) && t.sender !== link.faces.sender)
    .map((t) => t.receiver.track.kind));
  for (const transceiver of pc.getTransceivers()) {
    if (transceiver.mid === null && !transceiver.sender.track) {
      // Ours, from an offer we rolled back, for a kind we have no track for: the
      // remote offer brought its own, and this one would only add an m-line later.
      transceiver.stop();
      continue;
    }
    if (transceiver.sender.track || transceiver.currentDirection) continue;
    const kind = transceiver.receiver.track.kind;
    const track = stream?.getTracks().find((t) => t.kind === kind) ?? null;
    if (sent.has(kind)) {
      transceiver.direction = 'recvonly';  // their second camera: ours goes elsewhere
      continue;
    }
    sent.add(kind);
    transceiver.direction = 'sendrecv';
    if (track) transceiver.sender.replaceTrack(track);
    if (stream) transceiver.sender.setStreams?.(stream);
  }
}

/**
 * @param {RTCPeerConnection} pc
 * @param {'audio'|'video'} kind
 * @param {?MediaStreamTrack} track
 */
export async function replaceTrack(pc, kind, track) {
  for (const transceiver of pc.getTransceivers()) {
    if (transceiver.receiver.track.kind !== kind || transceiver.stopped) continue;
    if (transceiver.direction === 'sendrecv' || transceiver.direction === 'sendonly') {
      await transceiver.sender.replaceTrack(track);
    }
  }
}

/**
 * Apply the link's latest wanted caps to its video senders (the second camera's from
 * facecam.js). Link.applyCaps chains the calls, so that each setParameters follows its
 * own getParameters.
 * @param {Link} link
 */
export async function applySenderCaps(link) {
  const wanted = link.wantedCaps;
  if (link.closed || link.pc.signalingState !== 'stable' || !wanted) return;
  for (const sender of link.pc.getSenders()) {
    if (sender.track?.kind !== 'video') continue;
    const caps = sender === link.faces.sender ? faceCaps(link.inView, sender.track) : wanted;
    const params = sender.getParameters();
    if (!params.encodings?.length) continue;  // not negotiated yet
    const encoding = params.encodings[0];
    if (encoding.maxBitrate === caps.maxBitrate
        && encoding.scaleResolutionDownBy === caps.scaleResolutionDownBy
        && encoding.maxFramerate === caps.maxFramerate
        && params.degradationPreference === DEGRADATION) continue;
    Object.assign(encoding, caps);
    params.degradationPreference = DEGRADATION;
    try {
      await sender.setParameters(params);
    } catch (error) {
      console.warn('rhystic: could not cap the sender', error);
    }
  }
}
