/**
 * The per-peer data channel: small JSON messages between two players' browsers, beside
 * the media and never through the server. Today it carries one message, the spotlight
 * hint (docs/protocol.md §13). No DOM.
 * @module peerlink
 */
import { Emitter } from './emitter.js';

/** Both sides create the channel with this label and id (negotiated, not announced). */
export const CHANNEL_LABEL = 'rhystic';
export const CHANNEL_ID = 0;

/**
 * @typedef {{type: 'spotlight', on: boolean}} SpotlightMessage
 */

/**
 * One data channel to one peer. Events: `open`, `spotlight` (on: boolean, the peer has
 * us in its spotlight or not). Unknown and malformed messages are ignored, so that
 * older and newer clients can share a room.
 */
export class PeerLink extends Emitter {
  /** @param {RTCPeerConnection} pc */
  constructor(pc) {
    super();
    // Negotiated with a fixed id: both sides make it, neither waits for ondatachannel,
    // and the offer and answer carry the SCTP section whichever side offers.
    this.channel = pc.createDataChannel(CHANNEL_LABEL, { negotiated: true, id: CHANNEL_ID });
    this.channel.onopen = () => this.emit('open');
    this.channel.onmessage = ({ data }) => this._receive(data);
  }

  /** @returns {boolean} */
  get open() {
    return this.channel.readyState === 'open';
  }

  /** @param {boolean} on whether we now have this peer in our spotlight */
  sendSpotlight(on) {
    this._send({ type: 'spotlight', on: Boolean(on) });
  }

  close() {
    this.channel.close();
  }

  /** @param {object} message @returns {boolean} whether it went out */
  _send(message) {
    if (!this.open) return false;  // the `open` event is the moment to say it again
    try {
      this.channel.send(JSON.stringify(message));
      return true;
    } catch (error) {
      console.warn('rhystic: data channel send failed', error);
      return false;
    }
  }

  /** @param {unknown} data */
  _receive(data) {
    if (typeof data !== 'string') return;
    let message;
    try { message = JSON.parse(data); } catch { return; }
    if (message?.type === 'spotlight') this.emit('spotlight', message.on === true);
  }
}
