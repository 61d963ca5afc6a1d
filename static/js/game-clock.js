/**
 * Chess clocks (docs/protocol.md, "The state": `clock`, `players[].clock`, `paused`):
 * each tile's time left on its life pod, and the host's clock setting in the Table
 * dialog. The server keeps the time; this module only counts down between its updates,
 * from `clock.since` in server time (GameClient.now(): our clock plus the offset the
 * snapshot's `server_time` gave).
 *
 * Only the active player's clock runs, and none while the game is paused (the server
 * then sends `since: null`). The clocks are read from the *confirmed* state: a pass of
 * ours that the server has not confirmed yet moves the turn marker at once, but the
 * clocks move only when the server says when the turn passed.
 *
 * Screen readers: a clock is an image whose label says the time in words; it is not a
 * live region, so nothing is read out each second. Running out of time is announced
 * once (onOut).
 * @module game-clock
 */
import { confirmStep } from './game-tools.js';

/** Under this many seconds a clock shows in the warning style. */
export const LOW_SECONDS = 60;

/**
 * Seconds left on a player's clock at server time `now`, or null without clocks.
 * @param {?import('./game.js').GameState} state @param {string} userId @param {number} now
 */
export function clockLeft(state, userId, now) {
  const player = state?.players[userId];
  if (!state?.clock || player?.clock == null) return null;
  if (!clockRuns(state, userId)) return player.clock;
  // A client clock a little ahead of the server's must not add time.
  return player.clock - Math.max(0, now - state.clock.since);
}

/** @param {?import('./game.js').GameState} state @param {string} userId */
export function clockRuns(state, userId) {
  return Boolean(state?.clock && state.clock.since != null && !state.paused
    && state.active === userId);
}

/**
 * What a clock shows: "mm:ss" (or "h:mm:ss"), counted in whole seconds rounded up so
 * that a fresh 5 minutes reads 05:00 and "Time" comes exactly when none is left.
 * @param {number} seconds
 * @returns {{text: string, words: string, low: boolean, out: boolean}}
 */
export function clockView(seconds) {
  const whole = Math.ceil(seconds - 1e-6);
  if (whole <= 0) return { text: 'Time', words: 'out of time', low: true, out: true };
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  const pad = (n) => String(n).padStart(2, '0');
  const text = h ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
  const unit = (n, name) => (n ? [`${n} ${name}${n === 1 ? '' : 's'}`] : []);
  const words = [...unit(h, 'hour'), ...unit(m, 'minute'), ...unit(s, 'second')].join(' ');
  return { text, words: `${words} left`, low: whole < LOW_SECONDS, out: false };
}

/**
 * Keeps the `.chip-clock` of every life pod in the grid current, ticking only while a
 * clock runs: each tick is timed for the moment the shown second changes.
 */
export class PodClocks {
  /**
   * @param {import('./game.js').GameClient} game
   * @param {HTMLElement} grid the tiles, each `.tile[data-game-user]` with a `.game-pod`
   * @param {(userId: string) => void} onOut a running clock has just reached zero
   */
  constructor(game, grid, onOut) {
    this.game = game;
    this.grid = grid;
    this.onOut = onOut;
    this._timer = null;
    /** @type {Map<string, boolean>} by user: whether the clock showed time left */
    this._hadTime = new Map();
  }

  render() {
    clearTimeout(this._timer);
    this._timer = null;
    const state = this.game.confirmed;
    const now = this.game.now();
    let next = Infinity;
    for (const tile of this.grid.querySelectorAll(':scope > .tile[data-game-user]')) {
      const chip = tile.querySelector(':scope > .game-pod .chip-clock');
      if (!chip) continue;
      const userId = /** @type {HTMLElement} */ (tile).dataset.gameUser;
      const left = clockLeft(state, userId, now);
      this._show(/** @type {HTMLElement} */ (chip), state, userId, left);
      if (left != null && clockRuns(state, userId) && left > 0) {
        // The shown (rounded-up) second changes when `left` crosses the next integer.
        next = Math.min(next, left - Math.ceil(left - 1e-6) + 1);
      }
    }
    if (Number.isFinite(next)) {
      this._timer = setTimeout(() => this.render(), Math.max(20, next * 1000 + 15));
    }
  }

  /** @param {HTMLElement} chip @param {?number} left */
  _show(chip, state, userId, left) {
    chip.hidden = left == null;
    if (left == null) {
      this._hadTime.delete(userId);
      return;
    }
    const view = clockView(left);
    const runs = clockRuns(state, userId);
    if (chip.textContent !== view.text) chip.textContent = view.text;
    chip.dataset.state = view.out ? 'out' : state.paused ? 'paused' : runs ? 'running' : 'stopped';
    chip.classList.toggle('low', view.low);
    const mine = userId === this.game.userId;
    const who = mine ? 'Your' : `${state.players[userId].name}'s`;
    const note = state.paused && !view.out ? ', paused' : runs ? ', running' : '';
    const label = `${who} clock: ${view.words}${note}`;
    if (chip.getAttribute('aria-label') !== label) {
      chip.setAttribute('aria-label', label);
      chip.title = label;
    }
    const had = this._hadTime.get(userId);
    this._hadTime.set(userId, !view.out);
    if (had && view.out && runs) this.onOut(userId);
  }
}

/**
 * The host's clock setting in the Table dialog: off, or minutes each plus an
 * increment. Setting it resets every player's clock, so mid-game it asks twice.
 */
export class ClockSetting {
  /**
   * @param {import('./game.js').GameClient} game
   * @param {HTMLDialogElement} dialog holds #clock-form
   */
  constructor(game, dialog) {
    this.game = game;
    this.form = /** @type {HTMLFormElement} */ (dialog.querySelector('#clock-form'));
    this.on = /** @type {HTMLInputElement} */ (this.form.querySelector('#clock-on'));
    this.minutes = /** @type {HTMLInputElement} */ (this.form.querySelector('#clock-minutes'));
    this.increment = /** @type {HTMLInputElement} */ (this.form.querySelector('#clock-increment'));
    this.status = this.form.querySelector('#clock-status');
    this.error = dialog.querySelector('.dialog-error');
    this._shown = undefined;
    this.on.addEventListener('change', () => this._enable());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this._submit();
    });
    // Follow the server's setting, but never overwrite what the host is typing.
    game.on('change', () => {
      if (!dialog.open) return;
      const clock = this._setting();
      if (JSON.stringify(clock) !== JSON.stringify(this._shown)) this.refresh();
    });
  }

  /** Show the room's setting (call when the dialog opens). */
  refresh() {
    const clock = this._setting();
    this._shown = clock;
    this.on.checked = Boolean(clock);
    if (clock) {
      this.minutes.value = String(Math.round(clock.total / 60));
      this.increment.value = String(clock.increment);
    }
    this.status.textContent = clock
      ? `Now: ${Math.round(clock.total / 60)} min + ${clock.increment} s a turn.`
      : 'Now: no clocks.';
    this._enable();
  }

  _setting() {
    const clock = this.game.confirmed?.clock;
    return clock ? { total: clock.total, increment: clock.increment } : null;
  }

  _enable() {
    this.minutes.disabled = this.increment.disabled = !this.on.checked;
  }

  _submit() {
    const clock = this.on.checked
      ? { total: Math.round(Number(this.minutes.value) * 60), increment: Number(this.increment.value) }
      : null;
    const started = (this.game.confirmed?.turn ?? 0) > 0 && this._shown;
    const button = /** @type {HTMLButtonElement} */ (this.form.querySelector('button[type="submit"]'));
    if (started && !confirmStep(button, 'Click again: everyone’s time restarts')) return;
    this.error.textContent = '';
    this.game.act({ type: 'settings', clock })
      .catch((error) => { this.error.textContent = error.message; });
  }
}
