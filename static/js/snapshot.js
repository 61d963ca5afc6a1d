/**
 * Snapshots: a viewer asks a player's browser for a region of its table camera at full
 * resolution, over the data channel (peerlink.js), and gets back that crop as a JPEG.
 * The sender grabs one frame of its camera track, crops exactly the region asked for,
 * encodes it and sends it in chunks; it refuses when its player turned snapshots off,
 * and limits each viewer to one in flight and a few a second. A snapshot can then be
 * shared with the room: the same transfer, to every peer. docs/protocol.md §9 has the
 * messages. No DOM beyond a canvas.
 * @module snapshot
 */
import { Emitter } from './emitter.js';
import { MAX_TRANSFER_BYTES } from './peerlink.js';

export const SNAPSHOT_MIME = 'image/jpeg';
export const SNAPSHOT_QUALITY = 0.9;
/** Requests per viewer in any one second (served or busy); more get `rate-limited`. */
export const REQUESTS_PER_SECOND = 3;
/** A viewer gives up on an answer after this long. */
export const REQUEST_TIMEOUT_MS = 10000;
/** A click asks for a square this fraction of the frame's width: about a card. */
export const CLICK_REGION_WIDTH = 0.2;

/** What each refusal means, in words the viewer's page can put after the name. */
export const SNAPSHOT_ERRORS = {
  refused: 'has turned off snapshots of their table',
  busy: 'is still sending your previous snapshot',
  'rate-limited': 'got too many snapshot requests at once; try again in a moment',
  'bad-request': 'could not read the snapshot request',
  'too-large': 'would have sent a snapshot over 4 MB',
  'no-camera': 'has no table camera on',
  failed: 'could not take the snapshot',
  timeout: 'did not answer the snapshot request',
};

/**
 * @typedef {{x: number, y: number, w: number, h: number}} Region
 *   normalised to the source frame: (0, 0) its top-left corner, (1, 1) its bottom-right
 * @typedef {{id: string, of: string, from: string, blob: Blob, width: number,
 *            height: number, region: ?Region, ms: number, senderMs?: ?number}} Snapshot
 *   `of`: whose table; `from`: whose browser sent it to us (the same, unless shared);
 *   `ms`: request to last chunk; `senderMs`: the sender's grab, crop and encode
 */

/**
 * A request as it arrived, checked: its id and region, or the error to answer with.
 * @param {object} message
 * @returns {{id: string, region: Region} | {error: {id: ?string, code: string}}}
 */
export function parseRequest(message) {
  const id = typeof message.id === 'string' && /^[\w-]{1,64}$/.test(message.id)
    ? message.id : null;
  const r = message.region;
  const ok = id && r && typeof r === 'object'
    && [r.x, r.y, r.w, r.h].every(Number.isFinite)
    && r.x >= 0 && r.y >= 0 && r.w > 0 && r.h > 0
    && r.x + r.w <= 1.000001 && r.y + r.h <= 1.000001;
  if (!ok) return { error: { id, code: 'bad-request' } };
  return { id, region: { x: r.x, y: r.y, w: r.w, h: r.h } };
}

/**
 * The region a click asks for: a square (in source pixels) centred on the point,
 * moved inside the frame.
 * @param {{x: number, y: number}} point normalised
 * @param {number} aspect the source's width / height
 * @returns {Region}
 */
export function clickRegion(point, aspect) {
  const w = CLICK_REGION_WIDTH;
  const h = Math.min(1, w * aspect);
  const clamp = (v, size) => Math.min(Math.max(v - size / 2, 0), 1 - size);
  return { x: clamp(point.x, w), y: clamp(point.y, h), w, h };
}

/**
 * @param {Region} region @param {number} width @param {number} height
 * @returns {{x: number, y: number, w: number, h: number}} whole pixels, inside the frame
 */
export function regionToPixels(region, width, height) {
  const x = Math.min(width - 1, Math.floor(region.x * width));
  const y = Math.min(height - 1, Math.floor(region.y * height));
  return {
    x, y,
    w: Math.max(1, Math.min(width - x, Math.round(region.w * width))),
    h: Math.max(1, Math.min(height - y, Math.round(region.h * height))),
  };
}

/**
 * One frame of a camera track at the track's own resolution.
 * @param {MediaStreamTrack} track
 * @returns {Promise<ImageBitmap>}
 */
export async function grabFrame(track) {
  if (typeof ImageCapture === 'function') {
    try { return await new ImageCapture(track).grabFrame(); } catch { /* below */ }
  }
  // Browsers without ImageCapture: play the track in a detached video element.
  const video = document.createElement('video');
  video.muted = true;
  video.srcObject = new MediaStream([track]);
  await video.play();
  await new Promise((resolve) => (video.requestVideoFrameCallback
    ? video.requestVideoFrameCallback(resolve) : setTimeout(resolve, 100)));
  const bitmap = await createImageBitmap(video);
  video.srcObject = null;
  return bitmap;
}

/**
 * Crop exactly `region` out of one frame, and encode it.
 * @param {MediaStreamTrack} track
 * @param {Region} region
 * @returns {Promise<{blob: Blob, width: number, height: number}>}
 */
export async function takeSnapshot(track, region) {
  const frame = await grabFrame(track);
  const rect = regionToPixels(region, frame.width, frame.height);
  const canvas = new OffscreenCanvas(rect.w, rect.h);
  canvas.getContext('2d').drawImage(frame, rect.x, rect.y, rect.w, rect.h, 0, 0, rect.w, rect.h);
  frame.close();
  const blob = await canvas.convertToBlob({ type: SNAPSHOT_MIME, quality: SNAPSHOT_QUALITY });
  return { blob, width: rect.w, height: rect.h };
}

let counter = 0;
const newId = () => `${Date.now().toString(36)}-${(counter += 1).toString(36)}`;

/**
 * Both ends of snapshots, for every peer link of a call. Events: `taken` (peerId: a
 * snapshot of our table went to that viewer), `shared` (Snapshot: a peer shared one
 * with the room).
 */
export class SnapshotService extends Emitter {
  /**
   * @param {{tableTrack: () => ?MediaStreamTrack, allowed: () => boolean}} options
   *   our table camera's track, and whether our player lets others take snapshots
   */
  constructor({ tableTrack, allowed }) {
    super();
    this.tableTrack = tableTrack;
    this.allowed = allowed;
    /** @type {Map<string, import('./peerlink.js').PeerLink>} */
    this.links = new Map();
    /** Sender side, per viewer: a request being served, and recent request times. */
    this.serving = new Map();
    /** Viewer side, per sender: the request we wait on. */
    this.pending = new Map();
  }

  /** @param {string} peerId @param {import('./peerlink.js').PeerLink} peerLink */
  attach(peerId, peerLink) {
    this.links.set(peerId, peerLink);
    this._fail(peerId, 'failed');  // a new channel: an answer on the old one is lost
    peerLink.on('message', (message) => {
      if (this.links.get(peerId) === peerLink) this._onMessage(peerId, message);
    });
    peerLink.on('transfer', (header, blob) => {
      if (this.links.get(peerId) === peerLink) this._onTransfer(peerId, header, blob);
    });
  }

  /** @param {string} peerId */
  detach(peerId) {
    this.links.delete(peerId);
    this.serving.delete(peerId);
    this._fail(peerId, 'failed');
  }

  /**
   * Ask a player for a region of their table.
   * @param {string} peerId @param {Region} region
   * @returns {Promise<Snapshot>} rejects with an Error whose `code` is a SNAPSHOT_ERRORS key
   */
  request(peerId, region) {
    const link = this.links.get(peerId);
    if (this.pending.has(peerId)) return Promise.reject(snapshotError('busy'));
    const id = newId();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this._fail(peerId, 'timeout'), REQUEST_TIMEOUT_MS);
      this.pending.set(peerId, { id, region, resolve, reject, timer, at: performance.now() });
      if (!link?.send({ type: 'snapshot-request', id, region })) this._fail(peerId, 'failed');
    });
  }

  /**
   * Send a snapshot we hold to every peer: they add it to their strip.
   * @param {Snapshot} snapshot
   */
  share(snapshot) {
    const header = {
      type: 'snapshot-share', id: snapshot.id, of: snapshot.of, mime: SNAPSHOT_MIME,
      width: snapshot.width, height: snapshot.height,
    };
    for (const link of this.links.values()) link.sendTransfer(header, snapshot.blob);
  }

  _onMessage(peerId, message) {
    if (message.type === 'snapshot-request') {
      this._serve(peerId, message);
    } else if (message.type === 'snapshot-error' && message.id === this.pending.get(peerId)?.id) {
      this._fail(peerId, SNAPSHOT_ERRORS[message.code] ? message.code : 'failed');
    } else if (message.type === 'bad-transfer' && message.header?.type === 'snapshot') {
      this._fail(peerId, 'too-large');
    }
  }

  _onTransfer(peerId, header, blob) {
    const size = (v) => (Number.isInteger(v) && v > 0 && v <= 16384 ? v : 0);
    const width = size(header.width);
    const height = size(header.height);
    if (header.type === 'snapshot') {
      const wait = this.pending.get(peerId);
      if (!wait || header.id !== wait.id || !width || !height) return;
      this._settle(peerId);
      wait.resolve({ id: wait.id, of: peerId, from: peerId, blob, width, height,
        region: wait.region, ms: performance.now() - wait.at,
        senderMs: Number.isFinite(header.took_ms) ? header.took_ms : null });
    } else if (header.type === 'snapshot-share' && width && height) {
      const of = typeof header.of === 'string' ? header.of.slice(0, 64) : peerId;
      const id = typeof header.id === 'string' ? header.id.slice(0, 64) : newId();
      this.emit('shared', { id, of, from: peerId, blob, width, height, region: null, ms: 0 });
    }
  }

  /** Answer one request: refuse, limit, or crop, encode and send. */
  async _serve(peerId, message) {
    const link = this.links.get(peerId);
    const parsed = parseRequest(message);
    const refuse = (code, id) => link.send({ type: 'snapshot-error', id, code,
      message: `Your snapshot request was refused: ${code}.` });
    if ('error' in parsed) return refuse(parsed.error.code, parsed.error.id);
    if (!this.allowed()) return refuse('refused', parsed.id);
    // Every request that gets this far counts, served or found busy: a flood is limited
    // however it is timed.
    const state = this.serving.get(peerId) ?? { busy: false, times: [] };
    this.serving.set(peerId, state);
    const now = performance.now();
    state.times = state.times.filter((t) => now - t < 1000);
    if (state.times.length >= REQUESTS_PER_SECOND) return refuse('rate-limited', parsed.id);
    state.times.push(now);
    if (state.busy) return refuse('busy', parsed.id);
    const track = this.tableTrack();
    if (!track || track.readyState !== 'live' || !track.enabled) {
      return refuse('no-camera', parsed.id);
    }
    state.busy = true;
    try {
      const shot = await takeSnapshot(track, parsed.region);
      if (shot.blob.size > MAX_TRANSFER_BYTES) return refuse('too-large', parsed.id);
      // took_ms: grab, crop and encode, so that a viewer can tell where its wait went.
      const header = { type: 'snapshot', id: parsed.id, mime: SNAPSHOT_MIME,
        width: shot.width, height: shot.height, took_ms: Math.round(performance.now() - now) };
      if (await link.sendTransfer(header, shot.blob)) this.emit('taken', peerId);
    } catch (error) {
      console.warn('rhystic: snapshot failed', error);
      refuse('failed', parsed.id);
    } finally {
      state.busy = false;
    }
  }

  _settle(peerId) {
    const wait = this.pending.get(peerId);
    if (wait) clearTimeout(wait.timer);
    this.pending.delete(peerId);
  }

  /** @param {string} peerId @param {string} code */
  _fail(peerId, code) {
    const wait = this.pending.get(peerId);
    if (!wait) return;
    this._settle(peerId);
    wait.reject(snapshotError(code));
  }
}

/** @param {string} code @returns {Error & {code: string}} */
function snapshotError(code) {
  return Object.assign(new Error(SNAPSHOT_ERRORS[code] ?? code), { code });
}
