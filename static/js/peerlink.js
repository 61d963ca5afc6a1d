/**
 * The per-peer data channel: JSON messages and binary transfers between two players'
 * browsers, beside the media and never through the server (docs/protocol.md §9, "The
 * data channel"). It carries the viewer's hints (what size it shows our table at) and
 * snapshots (snapshot.js). Chunking and backpressure live here. No DOM.
 * @module peerlink
 */
import { Emitter } from './emitter.js';

/** Both sides create the channel with this label and id (negotiated, not announced). */
export const CHANNEL_LABEL = 'rhystic';
export const CHANNEL_ID = 0;
/** A binary chunk is at most this many bytes: every browser's SCTP handles it. */
export const CHUNK_BYTES = 16 * 1024;
/** No transfer is larger than this; a header that announces more is refused. */
export const MAX_TRANSFER_BYTES = 4 * 1024 * 1024;
/** A JSON message is small; a longer text message is answered with an error. */
export const MAX_MESSAGE_CHARS = 4096;
/** Sending pauses while this much is queued, and goes on when it drains to a quarter. */
const HIGH_WATER = 1024 * 1024;

/** The JSON message types that announce a binary transfer: `bytes` of chunks follow. */
export const TRANSFER_TYPES = new Set(['snapshot', 'snapshot-share']);

/**
 * @typedef {{width: number, height: number, spotlight: boolean, fullscreen: boolean,
 *            zoom: number, face_big?: boolean}} ViewHint what a viewer shows of our
 *   table, in device pixels; face_big: it shows our second camera big (facecam.js)
 */

/**
 * One data channel to one peer. Events: `open`; `view` (ViewHint, or null when the
 * viewer no longer says); `message` (any other valid JSON message with a `type`);
 * `transfer` (header, Blob: a complete binary transfer). Unknown types are passed on
 * and may be ignored, so that older and newer clients can share a room; malformed or
 * oversized text gets an `error` reply, and never closes the channel.
 */
export class PeerLink extends Emitter {
  /** @param {RTCPeerConnection} pc */
  constructor(pc) {
    super();
    // Negotiated with a fixed id: both sides make it, neither waits for ondatachannel,
    // and the offer and answer carry the SCTP section whichever side offers.
    this.channel = pc.createDataChannel(CHANNEL_LABEL, { negotiated: true, id: CHANNEL_ID });
    this.channel.binaryType = 'arraybuffer';
    this.channel.bufferedAmountLowThreshold = HIGH_WATER / 4;
    this.channel.onopen = () => this.emit('open');
    this.channel.onmessage = ({ data }) => this._receive(data);
    /** The transfer being received: its header, the chunks so far, their size. */
    this.incoming = null;
    /** Outgoing transfers go one at a time, so that their chunks never interleave. */
    this.sending = Promise.resolve();
  }

  /** @returns {boolean} */
  get open() {
    return this.channel.readyState === 'open';
  }

  /** @param {?ViewHint} view how we show this peer's table (null: we do not say) */
  sendView(view) {
    if (!view) return;
    this.send({ type: 'view', ...view });
  }

  close() {
    this.channel.close();
  }

  /** @param {object} message @returns {boolean} whether it went out */
  send(message) {
    if (!this.open) return false;  // the `open` event is the moment to say it again
    try {
      this.channel.send(JSON.stringify(message));
      return true;
    } catch (error) {
      console.warn('rhystic: data channel send failed', error);
      return false;
    }
  }

  /**
   * A header, then the blob in chunks of at most CHUNK_BYTES, pausing while the
   * channel's buffer is full. Resolves when all is queued; false if the channel closed.
   * @param {{type: string, bytes?: number}} header
   * @param {Blob} blob
   * @returns {Promise<boolean>}
   */
  sendTransfer(header, blob) {
    const run = async () => {
      const data = new Uint8Array(await blob.arrayBuffer());
      if (!this.send({ ...header, bytes: data.length })) return false;
      for (let at = 0; at < data.length; at += CHUNK_BYTES) {
        if (!await this._drained()) return false;
        this.channel.send(data.subarray(at, at + CHUNK_BYTES));
      }
      return true;
    };
    const result = this.sending.then(run, run).catch((error) => {
      console.warn('rhystic: transfer failed', error);
      return false;
    });
    this.sending = result;
    return result;
  }

  /** @returns {Promise<boolean>} the buffer is below the high-water mark (false: closed) */
  _drained() {
    if (!this.open) return Promise.resolve(false);
    if (this.channel.bufferedAmount < HIGH_WATER) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        this.channel.removeEventListener('bufferedamountlow', done);
        this.channel.removeEventListener('close', done);
        resolve(this.open);
      };
      this.channel.addEventListener('bufferedamountlow', done);
      this.channel.addEventListener('close', done);
    });
  }

  /** @param {unknown} data */
  _receive(data) {
    if (data instanceof ArrayBuffer) {
      this._receiveChunk(data);
      return;
    }
    if (typeof data !== 'string') return;
    if (data.length > MAX_MESSAGE_CHARS) {
      this.send({ type: 'error', code: 'too-large', message: 'That message is too long.' });
      return;
    }
    let message;
    try { message = JSON.parse(data); } catch { message = null; }
    if (!message || typeof message !== 'object' || typeof message.type !== 'string') {
      this.send({ type: 'error', code: 'bad-message', message: 'Not a JSON object with a type.' });
      return;
    }
    if (message.type === 'view') {
      this.emit('view', readView(message));
    } else if (message.type === 'spotlight') {  // older clients: spotlight alone
      this.emit('view', message.on === true ? { ...UNKNOWN_VIEW, spotlight: true } : null);
    } else if (TRANSFER_TYPES.has(message.type)) {
      this._beginTransfer(message);
    } else {
      this.emit('message', message);
    }
  }

  /** @param {{type: string, bytes: unknown}} header */
  _beginTransfer(header) {
    const bytes = header.bytes;
    this.incoming = null;  // a new header ends whatever came before it
    if (!Number.isInteger(bytes) || bytes < 1 || bytes > MAX_TRANSFER_BYTES) {
      this.emit('message', { type: 'bad-transfer', header });
      return;
    }
    this.incoming = { header, chunks: [], received: 0 };
  }

  /** @param {ArrayBuffer} chunk */
  _receiveChunk(chunk) {
    const incoming = this.incoming;
    if (!incoming) return;  // no header announced it: not ours to keep
    incoming.received += chunk.byteLength;
    if (chunk.byteLength > CHUNK_BYTES || incoming.received > incoming.header.bytes) {
      this.incoming = null;  // more than was announced: drop the whole transfer
      this.emit('message', { type: 'bad-transfer', header: incoming.header });
      return;
    }
    incoming.chunks.push(chunk);
    if (incoming.received === incoming.header.bytes) {
      this.incoming = null;
      const type = typeof incoming.header.mime === 'string' ? incoming.header.mime : '';
      this.emit('transfer', incoming.header, new Blob(incoming.chunks, { type }));
    }
  }
}

/** A view with no size: the viewer only says it looks closely (spotlight). */
const UNKNOWN_VIEW = { width: 0, height: 0, spotlight: false, fullscreen: false, zoom: 1,
  face_big: false };

/**
 * A `view` message as a ViewHint, with anything out of range made harmless.
 * @param {object} message
 * @returns {ViewHint}
 */
export function readView(message) {
  const size = (value) => (Number.isFinite(value) && value > 0
    ? Math.min(Math.round(value), 16384) : 0);
  const zoom = Number.isFinite(message.zoom) ? Math.min(Math.max(message.zoom, 1), 16) : 1;
  return {
    width: size(message.width), height: size(message.height),
    spotlight: message.spotlight === true, fullscreen: message.fullscreen === true, zoom,
    face_big: message.face_big === true,
  };
}
