/**
 * How one peer link is doing, as plain data: why it failed, when to try again, and
 * what getStats says about it. Pure functions: no peer connection, no DOM.
 * @module linkhealth
 */

/**
 * @typedef {{route: ?('direct'|'relay'), rttMs: ?number, fps: ?number, kbps: ?number,
 *            loss: ?number, framesDecoded: number, frameWidth?: ?number,
 *            frameHeight?: ?number}} LinkStats
 *   loss is the share of video packets lost since the previous report (0 to 1)
 * @typedef {'good'|'poor'|'bad'} HealthLevel
 * @typedef {{level: HealthLevel, cause: ?('slow'|'loss'|'frames')}} Health
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
 * When a link stops being good, as a player feels it: the one place these numbers live.
 * Round trips past 400 ms make a gesture arrive visibly late, past 1.5 s a conversation
 * breaks down; a few percent of video packets lost smears the picture; frame rates are
 * judged against what the sender captures, since a 10 fps camera is not a poor link.
 */
export const HEALTH_THRESHOLDS = {
  poor: { rttMs: 400, loss: 0.05, fpsShare: 0.5, fps: 12 },
  bad: { rttMs: 1500, loss: 0.15, fpsShare: 0.2, fps: 4 },
};

/**
 * How healthy a link is from its latest stats: the worst level any measure reaches, and
 * the measure that reached it (a long round trip first: it explains the others).
 * @param {LinkStats} stats
 * @param {{expectedFps: number, videoExpected: boolean}} context the capture's frame
 *   rate, and whether the sender is sending video at all (camera on)
 * @param {typeof HEALTH_THRESHOLDS} [thresholds]
 * @returns {Health}
 */
export function linkHealth(stats, { expectedFps, videoExpected }, thresholds = HEALTH_THRESHOLDS) {
  for (const level of /** @type {HealthLevel[]} */ (['bad', 'poor'])) {
    const limit = thresholds[level];
    if (stats.rttMs != null && stats.rttMs >= limit.rttMs) return { level, cause: 'slow' };
    if (stats.loss != null && stats.loss >= limit.loss) return { level, cause: 'loss' };
    const floor = Math.min(limit.fps, limit.fpsShare * (expectedFps || 30));
    if (videoExpected && stats.fps != null && stats.fps < floor) return { level, cause: 'frames' };
  }
  return { level: 'good', cause: null };
}

const HEALTH_WORDS = {
  poor: {
    slow: (name) => `${name}'s video is lagging: the connection to them is slow`,
    loss: (name) => `${name}'s video is breaking up: the connection is losing data`,
    frames: (name) => `${name}'s video is choppy: few frames are getting through`,
  },
  bad: {
    slow: (name) => `${name}'s video is far behind: the connection to them is very slow`,
    loss: (name) => `${name}'s video is badly broken up: the connection is losing a lot of data`,
    frames: (name) => `${name}'s video has almost stopped: hardly any frames are getting through`,
  },
};

/**
 * What a player reads about a link that is not good, or '' when it is.
 * @param {string} name the other player's display name
 * @param {Health} health
 */
export function describeHealth(name, health) {
  if (health.level === 'good') return '';
  return HEALTH_WORDS[health.level][health.cause](name);
}

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
    loss: null,
    framesDecoded: inbound?.framesDecoded ?? 0,
    // The size the sender scales this link to (bandwidth.js), shown on the tile.
    frameWidth: inbound?.frameWidth ?? null,
    frameHeight: inbound?.frameHeight ?? null,
  };
  if (inbound && lastInbound) {
    const seconds = (inbound.timestamp - lastInbound.timestamp) / 1000;
    if (seconds > 0) {
      stats.kbps = Math.round(((inbound.bytesReceived - lastInbound.bytesReceived) * 8)
        / seconds / 1000);
      // A picture that froze reports no frame rate at all: nothing decoded is 0 fps.
      if (inbound.framesDecoded === lastInbound.framesDecoded) stats.fps = 0;
    }
    const lost = (inbound.packetsLost ?? 0) - (lastInbound.packetsLost ?? 0);
    const got = (inbound.packetsReceived ?? 0) - (lastInbound.packetsReceived ?? 0);
    if (lost + got > 0) stats.loss = Math.max(0, lost) / (Math.max(0, lost) + got);
  }
  return { stats, inbound };
}
