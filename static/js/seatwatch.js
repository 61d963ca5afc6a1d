/**
 * The lobby's view of the seats: who is at the table and how many seats are free. The
 * lobby has no socket, so it polls GET /api/rooms/<room>/seats: every 3 s while something
 * changes, backing off to 20 s while nothing does, and at once when the tab comes back
 * into view. No DOM here; the lobby renders what it is told.
 * @module seatwatch
 */

/** @typedef {{peer_count: number, max_peers: number, players: string[]}} Seats */

export const FIRST_DELAY = 3000;
export const MAX_DELAY = 20000;

export class SeatWatch {
  /**
   * @param {string} roomId
   * @param {(seats: Seats) => void} onSeats called on every answer
   */
  constructor(roomId, onSeats) {
    this.url = `/api/rooms/${encodeURIComponent(roomId)}/seats`;
    this.onSeats = onSeats;
    this.delay = FIRST_DELAY;
    this.last = '';
    this.timer = null;
    this.stopped = true;
    this._onVisible = () => { if (!document.hidden) this.check(); };
  }

  start() {
    this.stopped = false;
    document.addEventListener('visibilitychange', this._onVisible);
    this.check();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    document.removeEventListener('visibilitychange', this._onVisible);
  }

  /** Ask now (a button, the tab in view), then carry on with the backoff. */
  async check() {
    clearTimeout(this.timer);
    let wait = this.delay;
    try {
      const response = await fetch(this.url, { headers: { Accept: 'application/json' } });
      if (response.status === 429) {
        wait = Math.max(MAX_DELAY, 1000 * Number(response.headers.get('Retry-After') || 0));
      } else if (response.ok) {
        wait = this._seen(await response.json());
      }
    } catch {
      wait = MAX_DELAY;  // offline for now: keep what the page says, try again later
    }
    if (!this.stopped) this.timer = setTimeout(() => this.check(), wait);
  }

  /** @param {Seats} seats @returns {number} the wait before the next look */
  _seen(seats) {
    const key = JSON.stringify(seats);
    this.delay = key === this.last ? Math.min(this.delay * 1.5, MAX_DELAY) : FIRST_DELAY;
    this.last = key;
    if (!this.stopped) this.onSeats(seats);
    return this.delay;
  }
}
