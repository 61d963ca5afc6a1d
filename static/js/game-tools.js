/**
 * The dice and coin tool, and the host's table settings (seat order, removing a
 * player, who may change what, pause, day/night, a new game in a format). The server
 * enforces every host-only action anyway; these controls only show to the host.
 * @module game-tools
 */
import { syncRows } from './game-panel.js';
import { describeFlip, describeRoll } from './game-text.js';

const CONFIRM_MS = 4000;

export class DiceTool {
  /**
   * @param {import('./game.js').GameClient} game
   * @param {HTMLDialogElement} dialog
   * @param {(userId: ?string) => string} nameOf
   */
  constructor(game, dialog, nameOf) {
    this.game = game;
    this.dialog = dialog;
    this.nameOf = nameOf;
    this.error = dialog.querySelector('.dialog-error');
    this.result = dialog.querySelector('#dice-result');
    dialog.querySelector('#roll-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const dice = Number(dialog.querySelector('#roll-dice').value);
      const sides = Number(dialog.querySelector('#roll-sides').value);
      this._act({ type: 'roll', dice, sides });
    });
    for (const button of dialog.querySelectorAll('[data-roll]')) {
      button.addEventListener('click', () => {
        const [dice, sides] = button.dataset.roll.split('d').map(Number);
        this._act({ type: 'roll', dice, sides });
      });
    }
    dialog.querySelector('#flip-button').addEventListener('click',
      () => this._act({ type: 'flip', coins: 1 }));
    dialog.querySelector('#first-button').addEventListener('click',
      () => this._act({ type: 'first-player' }));
  }

  open() {
    this.error.textContent = '';
    this.dialog.querySelector('#first-button').hidden = !this.game.isHost;
    const last = this.game.entries().reverse()
      .find((e) => ['roll', 'flip', 'first-player'].includes(e.type));
    if (last) this.showResult(last);
    if (!this.dialog.open) this.dialog.showModal();
  }

  /** @param {object} entry a roll, flip or first-player entry, from anyone */
  showResult(entry) {
    const who = entry.actor_name ?? 'The host';
    let text;
    if (entry.type === 'roll') text = `${who} rolled ${describeRoll(entry.result)}`;
    else if (entry.type === 'flip') text = `${who} flipped ${describeFlip(entry.result)}`;
    else text = `${this.nameOf(entry.result?.player)} goes first`;
    this.result.textContent = text;
    this.result.dataset.seq = String(entry.seq);
  }

  _act(action) {
    this.error.textContent = '';
    this.game.act(action).catch((error) => { this.error.textContent = error.message; });
  }
}

export class TableTool {
  /**
   * @param {import('./game.js').GameClient} game
   * @param {HTMLDialogElement} dialog
   * @param {(userId: ?string) => string} nameOf
   */
  constructor(game, dialog, nameOf) {
    this.game = game;
    this.dialog = dialog;
    this.nameOf = nameOf;
    this.error = dialog.querySelector('.dialog-error');
    this.seats = dialog.querySelector('#seat-list');
    game.on('change', () => { if (this.dialog.open) this.render(); });
    dialog.querySelector('#owner-only').addEventListener('change',
      (event) => this._act({ type: 'settings', owner_only: event.target.checked }));
    dialog.querySelector('#pause-button').addEventListener('click',
      () => this._act({ type: 'pause', paused: !this.game.confirmed.paused }));
    dialog.querySelector('#day-night').addEventListener('change', (event) => this._act(
      { type: 'marker', marker: 'day_night', value: event.target.value || null }));
    const format = dialog.querySelector('#format-select');
    format.addEventListener('change', () => this._showCustom());
    const form = dialog.querySelector('#new-game-form');
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!confirmStep(form.querySelector('button[type="submit"]'), 'Click again to start a new game')) return;
      const action = { type: 'new-game', format: format.value };
      if (format.value === 'custom') {
        action.starting_life = Number(dialog.querySelector('#starting-life').value);
        action.commander_damage = dialog.querySelector('#commander-damage').checked;
      }
      this._act(action);
    });
  }

  open() {
    if (!this.game.isHost) return;
    this.error.textContent = '';
    const format = this.game.confirmed?.format;
    if (format) this.dialog.querySelector('#format-select').value = format.name;
    this._showCustom();
    this.render();
    if (!this.dialog.open) this.dialog.showModal();
  }

  render() {
    const state = this.game.state;
    if (!state || !this.game.isHost) {
      this.dialog.close();
      return;
    }
    this.dialog.querySelector('#owner-only').checked = state.owner_only;
    this.dialog.querySelector('#pause-button').textContent = state.paused ? 'Resume game' : 'Pause game';
    this.dialog.querySelector('#day-night').value = state.markers.day_night ?? '';
    syncRows(this.seats, state.order.map((userId, i) => this._seat(state, userId, i)));
  }

  _showCustom() {
    const custom = this.dialog.querySelector('#format-select').value === 'custom';
    for (const el of this.dialog.querySelectorAll('.custom-only')) el.hidden = !custom;
  }

  /** One seat: the name, move up/down, make active, remove (with a confirm step). */
  _seat(state, userId, index) {
    let li = /** @type {?HTMLElement} */ (this.seats.querySelector(`[data-user="${CSS.escape(userId)}"]`));
    if (!li) {
      li = document.createElement('li');
      li.className = 'seat';
      li.dataset.user = userId;
      const name = document.createElement('span');
      name.className = 'seat-name';
      const tools = document.createElement('span');
      tools.className = 'seat-tools';
      const button = (cls, text, handler) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = `button small ${cls}`;
        b.textContent = text;
        b.addEventListener('click', () => handler(b));
        tools.append(b);
        return b;
      };
      button('seat-up', '↑', () => this._move(userId, -1));
      button('seat-down', '↓', () => this._move(userId, 1));
      button('seat-active', 'Make active', () => this._act({ type: 'set-active', player: userId }));
      button('seat-remove danger', 'Remove', (b) => {
        if (confirmStep(b, 'Confirm remove')) this._act({ type: 'remove-player', player: userId });
      });
      li.append(name, tools);
    }
    const player = state.players[userId];
    const active = state.active === userId;
    li.querySelector('.seat-name').textContent =
      `${index + 1}. ${player.name}${active ? ' (active)' : ''} · ${player.life} life`;
    li.querySelector('.seat-up').disabled = index === 0;
    li.querySelector('.seat-down').disabled = index === state.order.length - 1;
    li.querySelector('.seat-active').disabled = active;
    li.querySelector('.seat-up').setAttribute('aria-label', `Move ${player.name} up`);
    li.querySelector('.seat-down').setAttribute('aria-label', `Move ${player.name} down`);
    li.querySelector('.seat-active').setAttribute('aria-label', `Make it ${player.name}'s turn`);
    li.querySelector('.seat-remove').setAttribute('aria-label', `Remove ${player.name} from the game`);
    return li;
  }

  _move(userId, by) {
    const order = [...this.game.confirmed.order];
    const at = order.indexOf(userId);
    const to = at + by;
    if (at < 0 || to < 0 || to >= order.length) return;
    [order[at], order[to]] = [order[to], order[at]];
    this._act({ type: 'seat-order', order });
  }

  _act(action) {
    this.error.textContent = '';
    this.game.act(action).catch((error) => { this.error.textContent = error.message; });
  }
}

/**
 * A two-step button: the first press arms it (for a few seconds), the second acts.
 * @returns {boolean} whether to act now
 */
export function confirmStep(button, armedText) {
  if (button.dataset.armed === '1') {
    button.dataset.armed = '0';
    button.textContent = button.dataset.text;
    return true;
  }
  button.dataset.text = button.textContent;
  button.dataset.armed = '1';
  button.textContent = armedText;
  setTimeout(() => {
    if (button.dataset.armed !== '1') return;
    button.dataset.armed = '0';
    button.textContent = button.dataset.text;
  }, CONFIRM_MS);
  return false;
}
