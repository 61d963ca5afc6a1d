/**
 * How much each outgoing video link may use, by the number of remote peers.
 * A mesh sends one copy per peer, so the caps shrink as the room fills: with 7 remote
 * peers the video totals 7 x 800 kbit/s = 5.6 Mbit/s, plus about 0.3 Mbit/s of audio,
 * which leaves headroom in a typical 10 Mbit/s upstream. README.md has the table.
 * @module bandwidth
 */

/**
 * @typedef {{maxPeers: number, kbps: number, maxHeight: number, maxFps: number}} Tier
 * @typedef {{maxBitrate: number, scaleResolutionDownBy: number, maxFramerate: number}} Caps
 */

/** @type {Tier[]} */
export const TIERS = [
  { maxPeers: 1, kbps: 2500, maxHeight: 720, maxFps: 30 },
  { maxPeers: 2, kbps: 1800, maxHeight: 720, maxFps: 30 },
  { maxPeers: 3, kbps: 1300, maxHeight: 540, maxFps: 30 },
  { maxPeers: 5, kbps: 1000, maxHeight: 540, maxFps: 24 },
  { maxPeers: 7, kbps: 800, maxHeight: 360, maxFps: 24 },
];
/** What all outgoing video may add up to, in kbit/s, when peers ask for more. */
export const UPLINK_BUDGET_KBPS = 8000;
/** A spotlighted table may ask for the 1-peer tier, budget permitting. */
export const SPOTLIGHT = TIERS[0];

/**
 * @param {number} remotePeers how many peers we send to
 * @returns {Tier}
 */
export function tierFor(remotePeers) {
  return TIERS.find((tier) => remotePeers <= tier.maxPeers) ?? TIERS[TIERS.length - 1];
}

/**
 * The sender parameters for one link.
 * @param {number} remotePeers how many peers we send to
 * @param {number} spotlighters how many of them have us in their spotlight
 * @param {boolean} boosted whether this link's viewer has us in the spotlight
 * @param {number} trackHeight the captured height, in pixels (0 when unknown)
 * @param {number} trackFps the captured frame rate (0 when unknown)
 * @returns {Caps}
 */
export function capsFor(remotePeers, spotlighters, boosted, trackHeight, trackFps) {
  const base = tierFor(remotePeers);
  let kbps = base.kbps;
  let maxHeight = base.maxHeight;
  let maxFps = base.maxFps;
  if (boosted && spotlighters > 0) {
    const left = UPLINK_BUDGET_KBPS - base.kbps * (remotePeers - spotlighters);
    kbps = Math.max(base.kbps, Math.min(SPOTLIGHT.kbps, Math.floor(left / spotlighters)));
    maxHeight = SPOTLIGHT.maxHeight;
    maxFps = SPOTLIGHT.maxFps;
  }
  return {
    maxBitrate: kbps * 1000,
    scaleResolutionDownBy: trackHeight > maxHeight ? trackHeight / maxHeight : 1,
    maxFramerate: trackFps ? Math.min(trackFps, maxFps) : maxFps,
  };
}
