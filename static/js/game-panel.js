/**
 * A player's panel: life, poison, commander damage from each opponent (with the 21
 * rule), named counters, partner commanders and the monarch/initiative markers.
 * Rows are kept and updated in place, so a button keeps the focus while it is pressed.
 * @module game-panel
 */
import { holdable } from './hold.js';

const COMMANDER_LOSS = 21;
const POISON_LOSS = 10;
const OUT_REASONS = { life: 'no life left', poison: `${POISON_LOSS} or more poison`,
  commander: `${COMMANDER_LOSS} or more damage from one commander` };

export class PlayerPanel {
  /**
   * @param {import('./game.js').GameClient} game
   * @param {HTMLDialogElement} dialog
   * @param {(userId: ?string) => string} nameOf
   */
  constructor(game, dialog, nameOf) {
    this.game = game;
    this.dialog = dialog;
    this.nameOf = nameOf;
    /** @type {?string} whose panel is open */
    this.userId = null;
    this.error = dialog.querySelector('.dialog-error');
    game.on('change', () => { if (this.dialog.open) this.render(); });
    dialog.querySelector('.partner-check').addEventListener('change', (event) => {
      this._act({ type: 'partner', player: this.userId, partner: event.target.checked });
    });
    dialog.querySelector('.counter-add').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = event.target.querySelector('input');
      const name = input.value.trim();
      if (!name) return;
      this._act({ type: 'counter', player: this.userId, name, delta: 1 });
      input.value = '';
    });
    for (const button of dialog.querySelectorAll('.marker-button')) {
      button.addEventListener('click', () => {
        const marker = button.dataset.marker;
        const holder = this.game.confirmed?.markers[marker];
        this._act({ type: 'marker', marker, value: holder === this.userId ? null : this.userId });
      });
    }
  }

  /** @param {?string} userId */
  open(userId) {
    if (!userId || !this.game.confirmed?.players[userId]) return;
    this.userId = userId;
    this.error.textContent = '';
    this.dialog.dataset.user = userId;
    this.render();
    if (!this.dialog.open) this.dialog.showModal();
  }

  render() {
    const state = this.game.state;
    const player = state?.players[this.userId];
    if (!player) {
      this.dialog.close();
      return;
    }
    const mine = this.userId === this.game.userId;
    this.dialog.querySelector('h2').textContent = mine ? `${player.name} (you)` : player.name;
    const out = this.dialog.querySelector('.player-out');
    out.hidden = !player.out.length;
    out.textContent = player.out.length
      ? `Out of the game: ${player.out.map((r) => OUT_REASONS[r] ?? r).join(', ')}.` : '';
    this._renderStats(player);
    this._renderCommander(state, player);
    this._renderCounters(player);
    const partner = this.dialog.querySelector('.partner-check');
    partner.checked = player.partner;
    partner.disabled = !this.game.mayChange('partner', this.userId, 0);
    for (const button of this.dialog.querySelectorAll('.marker-button')) {
      button.setAttribute('aria-pressed', String(state.markers[button.dataset.marker] === this.userId));
      button.disabled = !this.game.isPlayer;
    }
  }

  _renderStats(player) {
    const list = this.dialog.querySelector('.player-stats');
    const who = this.userId;
    const rows = [
      { key: 'life', label: 'Life', value: player.life, kind: 'life',
        act: (delta) => this.game.life(who, delta) },
      { key: 'poison', label: 'Poison', value: player.poison, kind: 'poison',
        warn: player.poison >= POISON_LOSS, note: `${POISON_LOSS} loses`,
        act: (delta) => this.game.poison(who, delta) },
    ];
    syncRows(list, rows.map((row) => this._row(row)));
  }

  _renderCommander(state, player) {
    const section = this.dialog.querySelector('.player-commander');
    section.hidden = !state.format.commander_damage;
    if (section.hidden) return;
    const rows = [];
    for (const source of state.order) {
      if (source === this.userId || !state.players[source]) continue;
      const pair = player.commander[source] ?? [0, 0];
      const partner = state.players[source].partner;
      for (const index of partner ? [0, 1] : [0]) {
        const name = state.players[source].name + (partner ? ` (commander ${index + 1})` : '');
        rows.push(this._row({
          key: `cmd:${source}:${index}`, label: `From ${name}`, value: pair[index] ?? 0,
          kind: 'commander', source, warn: (pair[index] ?? 0) >= COMMANDER_LOSS,
          note: `${COMMANDER_LOSS} loses`,
          act: (delta) => this.game.commander(this.userId, source, delta, index),
        }));
      }
    }
    const list = section.querySelector('.commander-list');
    syncRows(list, rows);
    list.dataset.empty = String(!rows.length);
  }

  _renderCounters(player) {
    const rows = Object.entries(player.counters).map(([name, value]) => this._row({
      key: `counter:${name}`, label: name, value, kind: 'counter',
      act: (delta) => this.game.counter(this.userId, name, delta),
    }));
    syncRows(this.dialog.querySelector('.counter-list'), rows);
    this.dialog.querySelector('.counter-add button').disabled =
      !this.game.mayChange('counter', this.userId, 1);
  }

  /**
   * One value with its − and + buttons; built once per key, then updated.
   * @param {{key: string, label: string, value: number, kind: string, source?: string,
   *          warn?: boolean, note?: string, act: (delta: number) => Promise<any>}} row
   * @returns {HTMLElement}
   */
  _row(row) {
    const list = this.dialog;
    let el = /** @type {?HTMLElement} */ (list.querySelector(`[data-key="${CSS.escape(row.key)}"]`));
    if (!el) {
      el = document.createElement('div');
      el.className = 'stat-row';
      el.dataset.key = row.key;
      el.setAttribute('role', 'group');
      const label = document.createElement('span');
      label.className = 'stat-label';
      const value = document.createElement('span');
      value.className = 'stat-value';
      const note = document.createElement('span');
      note.className = 'stat-note';
      const minus = stepButton('−', 'stat-minus');
      const plus = stepButton('+', 'stat-plus');
      el.append(label, minus, value, plus, note);
      el.rowAct = row.act;
      holdable(minus, (step) => this._step(el, -step));
      holdable(plus, (step) => this._step(el, step));
    }
    el.rowAct = row.act;
    el.querySelector('.stat-label').textContent = row.label;
    el.querySelector('.stat-value').textContent = String(row.value);
    el.classList.toggle('lethal', Boolean(row.warn));
    el.querySelector('.stat-note').textContent = row.warn ? row.note : '';
    el.setAttribute('aria-label', `${row.label}: ${row.value}${row.warn ? `, ${row.note}` : ''}`);
    const minus = el.querySelector('.stat-minus');
    const plus = el.querySelector('.stat-plus');
    minus.disabled = row.value <= 0 && row.kind !== 'life'
      || !this.game.mayChange(row.kind, this.userId, -1, row.source);
    plus.disabled = !this.game.mayChange(row.kind, this.userId, 1, row.source);
    minus.setAttribute('aria-label', `${row.label}: minus 1 (hold for 5)`);
    plus.setAttribute('aria-label', `${row.label}: plus 1 (hold for 5)`);
    return el;
  }

  _step(el, delta) {
    this.error.textContent = '';
    el.rowAct(delta).catch((error) => { this.error.textContent = error.message; });
  }

  _act(action) {
    this.error.textContent = '';
    this.game.act(action).catch((error) => { this.error.textContent = error.message; });
  }
}

function stepButton(text, className) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = `pod-step ${className}`;
  button.textContent = text;
  return button;
}

/** Make `list` hold exactly `rows`, in order, moving nodes only when needed. */
export function syncRows(list, rows) {
  const current = [...list.children];
  if (current.length === rows.length && current.every((el, i) => el === rows[i])) return;
  list.replaceChildren(...rows);
}
