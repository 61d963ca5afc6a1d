/**
 * How much each outgoing video link may use. In a mesh every link has its own encoder,
 * so every link can carry a different resolution: each viewer tells us (over the data
 * channel, peerlink.js) how large it shows our table, and whether it looks closely
 * (spotlight, full screen, zoom). A link gets what its viewer can display, no more,
 * capped by the tier for the number of peers; the rest of the upload budget goes to
 * the links that are looked at, up to the full capture resolution (1080p). README.md,
 * "Bandwidth", has the tables.
 * @module bandwidth
 */

/**
 * @typedef {{maxPeers: number, kbps: number, maxHeight: number, maxFps: number}} Tier
 * @typedef {{maxBitrate: number, scaleResolutionDownBy: number, maxFramerate: number}} Caps
 * @typedef {import('./peerlink.js').ViewHint} ViewHint
 * @typedef {{width: number, height: number, fps: number}} TrackSize 0 when unknown
 */

/** What a link may use when its viewer does not look closely, by the number of peers. */
/** @type {Tier[]} */
export const TIERS = [
  { maxPeers: 1, kbps: 2500, maxHeight: 720, maxFps: 30 },
  { maxPeers: 2, kbps: 1800, maxHeight: 720, maxFps: 30 },
  { maxPeers: 3, kbps: 1300, maxHeight: 540, maxFps: 30 },
  { maxPeers: 5, kbps: 1000, maxHeight: 540, maxFps: 24 },
  { maxPeers: 7, kbps: 800, maxHeight: 360, maxFps: 24 },
];
/** What all outgoing video may add up to, in kbit/s, when peers look closely. */
export const UPLINK_BUDGET_KBPS = 8000;
/** The largest picture any link carries. */
export const MAX_HEIGHT = 1080;
/**
 * The bitrate a picture of this height needs to stay sharp (kbit/s at up to 30 fps),
 * for a table: mostly still, with fine detail.
 * @type {[number, number][]}
 */
export const RATES = [[180, 300], [270, 500], [360, 800], [540, 1300], [720, 2500],
  [1080, 4500]];

/**
 * @param {number} remotePeers how many peers we send to
 * @returns {Tier}
 */
export function tierFor(remotePeers) {
  return TIERS.find((tier) => remotePeers <= tier.maxPeers) ?? TIERS[TIERS.length - 1];
}

/** @param {number} height @returns {number} kbit/s */
export function rateFor(height) {
  return (RATES.find(([h]) => height <= h) ?? RATES[RATES.length - 1])[1];
}

/** @param {?ViewHint} view @returns {boolean} the viewer looks closely at our table */
export function looksClosely(view) {
  return Boolean(view && (view.spotlight || view.fullscreen || view.zoom > 1));
}

/**
 * The height a viewer can display of a source: enough to cover its picture in both
 * directions (its size is in device pixels, zoom included), never above the source.
 * @param {?ViewHint} view @param {number} srcWidth @param {number} srcHeight
 * @returns {number} 0 when the viewer did not say
 */
export function displayHeight(view, srcWidth, srcHeight) {
  if (!view?.width || !view?.height) return 0;
  const zoom = view.zoom || 1;
  const scale = Math.min(srcWidth / (view.width * zoom), srcHeight / (view.height * zoom));
  return Math.min(srcHeight, Math.ceil(srcHeight / Math.max(1, scale)));
}

/**
 * The sender parameters for every link, from what each viewer shows.
 * @param {Array<?ViewHint>} views one per link, null when the viewer said nothing
 * @param {TrackSize} track the captured size
 * @returns {Caps[]} in the order of `views`
 */
export function allocate(views, track) {
  const tier = tierFor(views.length);
  const srcHeight = track.height || tier.maxHeight;
  const srcWidth = track.width || Math.round(srcHeight * 16 / 9);
  const plan = views.map((view) => {
    if (looksClosely(view)) return { looked: true, height: Math.min(srcHeight, MAX_HEIGHT) };
    const shown = displayHeight(view, srcWidth, srcHeight) || srcHeight;
    const height = Math.min(shown, tier.maxHeight, srcHeight);
    return { looked: false, height, kbps: Math.min(tier.kbps, rateFor(height)) };
  });
  const lookers = plan.filter((p) => p.looked);
  const spent = plan.reduce((sum, p) => sum + (p.looked ? 0 : p.kbps), 0);
  const share = lookers.length ? (UPLINK_BUDGET_KBPS - spent) / lookers.length : 0;
  for (const p of lookers) {
    // The budget's ceiling: the largest picture the share pays for, never below the tier.
    const affordable = RATES.filter(([, kbps]) => kbps <= share).map(([h]) => h).pop() ?? 0;
    p.height = Math.min(p.height, Math.max(affordable, Math.min(tier.maxHeight, srcHeight)));
    // Never less than the tier: a looked-at link is not starved by a small source.
    p.kbps = Math.max(tier.kbps, Math.floor(Math.min(rateFor(p.height), share)));
  }
  const fps = (looked) => {
    const cap = looked ? 30 : tier.maxFps;
    return track.fps ? Math.min(track.fps, cap) : cap;
  };
  return plan.map((p) => ({
    maxBitrate: p.kbps * 1000,
    scaleResolutionDownBy: srcHeight > p.height ? srcHeight / p.height : 1,
    maxFramerate: fps(p.looked),
  }));
}
