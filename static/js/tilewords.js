/**
 * What a tile says, as plain data: its state, label and message from the peer and its
 * link, and the small formatting the tiles share. No DOM.
 * @module tilewords
 */
import { FAILURE_REASONS } from './linkhealth.js';

/**
 * What the tile says: its state, a short label and, when there is no picture, why.
 * @param {Peer & {self?: boolean}} peer
 * @param {?LinkState} link
 * @returns {[string, string, string]}
 */
export function describe(peer, link) {
  const name = peer.display_name ?? 'this player';
  const cameraOff = peer.media?.video === false;
  if (peer.self) {
    return ['self', 'You', cameraOff ? 'Your camera is off' : ''];
  }
  const status = link?.status ?? 'connecting';
  if (status === 'failed') {
    const why = FAILURE_REASONS[link.reason] ?? FAILURE_REASONS['no-route'];
    // The link keeps trying on its own: say when, so the tile is not a dead end.
    const next = link.retryAt ? `Trying again in ${secondsUntil(link.retryAt)} s.`
      : `Trying again now (attempt ${link.attempt + 1})…`;
    return ['failed', 'No connection', `Can't reach ${name}: ${why}. ${next}`];
  }
  if (status === 'reconnecting') return ['reconnecting', 'Reconnecting…', `Reconnecting to ${name}…`];
  if (status === 'connecting') return ['connecting', 'Connecting…', `Connecting to ${name}…`];
  const note = cameraOff ? `${name} turned their camera off` : '';
  if (!link.route) return ['connected', 'Connected', note];
  return [link.route, link.route === 'relay' ? 'Via relay' : 'Direct', note];
}

/** @param {number} at a Date.now() time @returns {number} whole seconds from now, at least 1 */
function secondsUntil(at) {
  return Math.max(1, Math.ceil((at - Date.now()) / 1000));
}

/** A player's key for remembered choices: their account, stable across reloads. */
export function playerKey(peer) {
  return peer.user_id ?? peer.peer_id;
}

export function formatRate(kbps) {
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${kbps} kbit/s`;
}
