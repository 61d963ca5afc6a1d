/**
 * Cameras and microphones: constraints, device lists, and graceful fallbacks.
 * @module media
 */

/**
 * @typedef {{width: number, height: number, fps: number}} Capture
 * @typedef {{cameraId?: ?string, micId?: ?string, capture?: Capture,
 *            audio?: boolean, video?: boolean}} MediaChoice
 */

/**
 * The table camera is opened as large as it goes, up to 1080p (`ideal`: a camera that
 * cannot gets its best instead). The stream each viewer receives is scaled per link
 * (bandwidth.js); the full-size frames are what snapshots are cut from (snapshot.js).
 */
export const DEFAULT_CAPTURE = { width: 1920, height: 1080, fps: 30 };

/**
 * @param {?string} cameraId
 * @param {Capture} capture
 * @returns {MediaTrackConstraints}
 */
export function videoConstraints(cameraId, capture = DEFAULT_CAPTURE) {
  return {
    ...(cameraId ? { deviceId: { exact: cameraId } } : {}),
    width: { ideal: capture.width },
    height: { ideal: capture.height },
    frameRate: { ideal: capture.fps, max: capture.fps },
  };
}

/**
 * @param {?string} micId
 * @returns {MediaTrackConstraints}
 */
export function audioConstraints(micId) {
  return {
    ...(micId ? { deviceId: { exact: micId } } : {}),
    echoCancellation: true, noiseSuppression: true,
  };
}

/**
 * The local camera and microphone. Falls back to whichever of the two works, and to an
 * empty stream when neither does: a player without a camera can still watch.
 * @param {MediaChoice} [choice]
 * @returns {Promise<{stream: MediaStream, error: ?Error}>}
 */
export async function openLocalMedia(choice = {}) {
  const { cameraId = null, micId = null, capture = DEFAULT_CAPTURE } = choice;
  const wantVideo = choice.video !== false;
  const wantAudio = choice.audio !== false;
  const attempts = [
    { video: wantVideo && videoConstraints(cameraId, capture), audio: wantAudio && audioConstraints(micId) },
    { video: wantVideo && videoConstraints(cameraId, capture), audio: false },
    { video: false, audio: wantAudio && audioConstraints(micId) },
  ].filter((c) => c.video || c.audio);
  let lastError = null;
  for (const constraints of attempts) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia(constraints);
      stream.getVideoTracks().forEach(markDetail);
      return { stream, error: null };
    } catch (error) {
      lastError = error;
      if (cameraId || micId) {
        // A remembered device that is gone: try whatever the browser picks.
        return openLocalMedia({ ...choice, cameraId: null, micId: null });
      }
    }
  }
  return { stream: new MediaStream(), error: lastError };
}

/**
 * A new track of one kind from a given device, for `replaceTrack`.
 * @param {'audio'|'video'} kind
 * @param {string} deviceId
 * @param {Capture} capture
 * @returns {Promise<MediaStreamTrack>}
 */
export async function openTrack(kind, deviceId, capture = DEFAULT_CAPTURE) {
  const constraints = kind === 'video'
    ? { video: videoConstraints(deviceId, capture) }
    : { audio: audioConstraints(deviceId) };
  const stream = await navigator.mediaDevices.getUserMedia(constraints);
  const track = stream.getTracks()[0];
  if (kind === 'video') markDetail(track);
  return track;
}

/**
 * A table camera shows cards to be read: `contentHint = 'detail'` tells the encoder
 * to keep the resolution and drop frames when bits or CPU run short (link.js sets
 * degradationPreference 'maintain-resolution' on each sender to match). A blurred
 * card at 30 fps is worth less than a sharp one at 10.
 * @param {MediaStreamTrack} track
 */
export function markDetail(track) {
  if ('contentHint' in track) track.contentHint = 'detail';
}

/**
 * @returns {Promise<{cameras: MediaDeviceInfo[], mics: MediaDeviceInfo[]}>}
 */
export async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  return {
    cameras: devices.filter((d) => d.kind === 'videoinput'),
    mics: devices.filter((d) => d.kind === 'audioinput'),
  };
}

/**
 * Words for a getUserMedia failure.
 * @param {?Error} error
 * @returns {string}
 */
export function describeMediaError(error) {
  if (!error) return '';
  switch (error.name) {
    case 'NotAllowedError': return 'Camera and microphone are blocked: allow them in the '
      + "browser's address bar, then reload.";
    case 'NotFoundError': return 'No camera or microphone found. You can still watch.';
    case 'NotReadableError': return 'The camera is in use by another application.';
    case 'OverconstrainedError': return 'That camera cannot do what was asked; pick another.';
    default: return `Could not open the camera: ${error.message || error.name}`;
  }
}
