/**
 * The viewer's own choices about tiles, remembered in localStorage: how each other
 * player's feed is turned and flipped (per room, keyed by their account), which tile is
 * in the spotlight, how large the own view is, and how each of the viewer's own cameras
 * is shown (per camera: a table camera is never mirrored unless its owner says so).
 * @module tileprefs
 */

/** @typedef {{rotate: number, flip: boolean}} View */

/** The own view's size against the others': smaller by default, the same on request. */
export const SELF_SCALES = { small: 0.5, same: 1 };

const CAMERAS_KEY = 'rhystic:camera-views';

/** Viewer-side choices, kept in localStorage per room and keyed by the player's account. */
export class ViewPrefs {
  /** @param {string} roomId */
  constructor(roomId) {
    this.key = `rhystic:view:${roomId}`;
    this.data = this._load();
  }

  _load() {
    try {
      const data = JSON.parse(localStorage.getItem(this.key) ?? '{}');
      return {
        players: data.players ?? {}, spotlight: data.spotlight ?? null,
        selfSize: data.selfSize === 'same' ? 'same' : 'small',
      };
    } catch {
      return { players: {}, spotlight: null, selfSize: 'small' };
    }
  }

  _save() {
    try { localStorage.setItem(this.key, JSON.stringify(this.data)); } catch { /* full */ }
  }

  /** @param {string} playerKey @returns {View} */
  view(playerKey) {
    return { rotate: 0, flip: false, ...(this.data.players[playerKey] ?? {}) };
  }

  /** @param {string} playerKey @param {Partial<View>} change */
  setView(playerKey, change) {
    this.data.players[playerKey] = { ...this.view(playerKey), ...change };
    this._save();
  }

  /** @returns {?string} */
  get spotlight() { return this.data.spotlight; }

  set spotlight(playerKey) {
    this.data.spotlight = playerKey;
    this._save();
  }

  /** @returns {'small'|'same'} */
  get selfSize() { return this.data.selfSize; }

  set selfSize(size) {
    this.data.selfSize = size;
    this._save();
  }
}

/**
 * How the viewer's own cameras are shown to the viewer, per camera (deviceId), in every
 * room: nothing is guessed from a camera's label, so a table camera reads the right
 * way round until its owner chooses to mirror it.
 */
export class CameraViews {
  constructor() {
    this.data = load(CAMERAS_KEY);
  }

  /** @param {?string} deviceId @returns {View} */
  view(deviceId) {
    return { rotate: 0, flip: false, ...(this.data[deviceId ?? ''] ?? {}) };
  }

  /** @param {?string} deviceId @param {Partial<View>} change */
  setView(deviceId, change) {
    this.data[deviceId ?? ''] = { ...this.view(deviceId), ...change };
    try { localStorage.setItem(CAMERAS_KEY, JSON.stringify(this.data)); } catch { /* full */ }
  }
}

/** @param {?MediaStream} stream @returns {?string} the camera behind the stream */
export function cameraOf(stream) {
  return stream?.getVideoTracks()[0]?.getSettings().deviceId ?? null;
}

function load(key) {
  try {
    const data = JSON.parse(localStorage.getItem(key) ?? '{}');
    return data && typeof data === 'object' ? data : {};
  } catch {
    return {};
  }
}
