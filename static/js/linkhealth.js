/**
 * How one peer link is doing, as plain data: why it failed, when to try again, and
 * what getStats says about it. Pure functions: no peer connection, no DOM.
 * @module linkhealth
 */

/**
 * @typedef {{route: ?('direct'|'relay'), rttMs: ?number, fps: ?number, kbps: ?number,
 *            framesDecoded: number}} LinkStats
 * @typedef {{code: number, url: string, text: string}} TurnError
 * @typedef {{retryBaseMs: number, retryMaxMs: number}} RetryConfig
 */

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
 * @param {RTCIceServer[]} iceServers
 * @param {Set<string>} gathered the candidate types this attempt gathered
 * @param {TurnError[]} turnErrors this attempt's icecandidateerror events
 * @param {boolean} gatheringDone whether this attempt's gathering completed
 * @returns {string} a key of FAILURE_REASONS
 */
export function failureReason(iceServers, gathered, turnErrors, gatheringDone) {
  const hasTurn = iceServers.some((server) =>
    [].concat(server.urls).some((url) => /^turns?:/.test(url)));
  if (!hasTurn) return 'no-relay-configured';
  if (gathered.has('relay')) return 'no-route';
  if (turnErrors.some((e) => e.code === 401 || e.code === 403 || e.code === 438)) {
    return 'relay-refused';
  }
  // A relay that never answers gives no error for a long while (the browser keeps
  // asking); still gathering when the attempt ran out says the same.
  if (turnErrors.length || !gatheringDone) return 'relay-unreachable';
  return 'no-route';
}

/**
 * How long a failed link waits before its next attempt: doubling from the base up to
 * the cap, give or take a quarter, so that the two ends of a link (and the links of a
 * room that failed together) don't all try again at the same instant.
 * @param {number} attempt attempts made since the link was last connected (0, 1, ...)
 * @param {RetryConfig} config
 * @param {() => number} [random]
 * @returns {number} milliseconds
 */
export function retryDelay(attempt, { retryBaseMs, retryMaxMs }, random = Math.random) {
  const plain = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(attempt, 16));
  return Math.round(plain * (0.75 + random() * 0.5));
}

/**
 * The route and quality of a link from one getStats() report.
 * @param {RTCStatsReport} report
 * @param {?RTCInboundRtpStreamStats} lastInbound the inbound video of the previous report
 * @returns {{stats: LinkStats, inbound: ?RTCInboundRtpStreamStats}}
 */
export function readStats(report, lastInbound) {
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
  const stats = {
    route,
    rttMs: pair?.currentRoundTripTime != null ? Math.round(pair.currentRoundTripTime * 1000)
      : null,
    fps: inbound?.framesPerSecond ?? null,
    kbps: null,
    framesDecoded: inbound?.framesDecoded ?? 0,
  };
  if (inbound && lastInbound) {
    const seconds = (inbound.timestamp - lastInbound.timestamp) / 1000;
    if (seconds > 0) {
      stats.kbps = Math.round(((inbound.bytesReceived - lastInbound.bytesReceived) * 8)
        / seconds / 1000);
    }
  }
  return { stats, inbound };
}
