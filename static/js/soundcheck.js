/**
 * The lobby's sound tools: a microphone level meter (Web Audio AnalyserNode) and a sound
 * check that records three seconds and plays them back, so a player hears what the
 * others will hear before sitting down.
 * @module soundcheck
 */

export const RECORD_MS = 3000;

/** The level of a microphone, 0 to 1, drawn into a bar. */
export class MicMeter {
  /** @param {HTMLElement} meter an element with role="meter" holding a `.meter-fill` */
  constructor(meter) {
    this.meter = meter;
    this.fill = meter.querySelector('.meter-fill');
    /** @type {?AudioContext} */
    this.context = null;
    this.source = null;
    this.frame = 0;
  }

  /** Measure this stream's microphone; a stream without one shows an empty meter. */
  attach(stream) {
    this.detach();
    const track = stream?.getAudioTracks()[0];
    this.meter.dataset.active = track ? '1' : '0';
    if (!track) return this._draw(0);
    this.context ??= new AudioContext();
    this.source = this.context.createMediaStreamSource(new MediaStream([track]));
    const analyser = this.context.createAnalyser();
    analyser.fftSize = 1024;
    this.source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      this._draw(levelOf(samples));
      this.frame = requestAnimationFrame(tick);
    };
    tick();
    return undefined;
  }

  /**
   * Browsers start an AudioContext suspended until the page is clicked or typed in;
   * the lobby calls this from its first click.
   */
  resume() {
    if (this.context?.state === 'suspended') this.context.resume().catch(() => {});
  }

  get suspended() {
    return this.context?.state === 'suspended';
  }

  detach() {
    cancelAnimationFrame(this.frame);
    this.source?.disconnect();
    this.source = null;
    this._draw(0);
  }

  close() {
    this.detach();
    this.context?.close().catch(() => {});
    this.context = null;
  }

  _draw(level) {
    const value = Math.round(level * 100);
    if (this.meter.getAttribute('aria-valuenow') === String(value)) return;
    this.meter.setAttribute('aria-valuenow', String(value));
    this.meter.dataset.level = String(value);
    // CSSOM, not a style attribute: the CSP allows this and refuses inline styles. A
    // clip, not a scale, so that green, amber and red stay where loud starts.
    this.fill.style.clipPath = `inset(0 ${100 - value}% 0 0)`;
  }
}

/**
 * Loudness on a scale that moves for speech: RMS mapped from -60..0 dBFS to 0..1.
 * @param {Float32Array} samples
 */
export function levelOf(samples) {
  let sum = 0;
  for (const s of samples) sum += s * s;
  const rms = Math.sqrt(sum / samples.length);
  if (rms <= 0) return 0;
  const db = 20 * Math.log10(rms);
  return Math.min(1, Math.max(0, (db + 60) / 60));
}

/**
 * Record the microphone for RECORD_MS, then play it back.
 * @param {MediaStream} stream
 * @param {(phase: 'recording'|'playing'|'done', detail?: {bytes: number}) => void} onPhase
 * @returns {Promise<void>}
 */
export async function soundCheck(stream, onPhase) {
  const track = stream.getAudioTracks()[0];
  if (!track) throw new Error('No microphone is open.');
  const recorder = new MediaRecorder(new MediaStream([track]));
  const chunks = [];
  recorder.ondataavailable = (event) => { if (event.data.size) chunks.push(event.data); };
  const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
  recorder.start();
  onPhase('recording');
  setTimeout(() => recorder.stop(), RECORD_MS);
  await stopped;
  const blob = new Blob(chunks, { type: recorder.mimeType });
  onPhase('playing', { bytes: blob.size });
  const url = URL.createObjectURL(blob);
  try {
    const audio = new Audio(url);
    const ended = new Promise((resolve, reject) => {
      audio.onended = resolve;
      audio.onerror = () => reject(new Error('Could not play the recording back.'));
    });
    await audio.play();
    await ended;
  } finally {
    URL.revokeObjectURL(url);
  }
  onPhase('done', { bytes: blob.size });
}
