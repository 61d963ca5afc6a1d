/**
 * A room the host controls, on the room page (docs/protocol.md §7a): the host's lock and
 * knock switches, the prompt when someone knocks, "Make host" on the others' tiles and
 * the host badge everyone sees; and, for a newcomer refused by a locked room, the door
 * where they wait for the host to let them in.
 *
 * Tiles belong to tiles.js: this module only shows the `.badge-host`, `.tool-make-host`
 * and `.host-confirm` parts of the tile template, found by the tile's data-peer-id.
 * The server enforces every rule; a control that is hidden is a courtesy, not a lock.
 * @module hosting-ui
 */
import { HostControls, Knocker } from './hosting.js';
import { SignalingError } from './signaling.js';

/** @param {string} id @returns {any} */
const $ = (id) => document.getElementById(id);

const LOCKED_MESSAGE = 'This room is locked by its host. Ask them to open it, then try again.';
const SIGN_IN_MESSAGE = 'This room is for signed-in players only: sign in on the home page '
  + '(your name and rooms are kept), then come back.';

export class HostingUI {
  /** @param {HTMLElement} root the room page */
  constructor(root) {
    this.root = root;
    this.controls = new HostControls();
    /** @type {?import('./room.js').RoomClient} */
    this.room = null;
    this.grid = $('grid');
    this.dialog = $('host-dialog');
    /** @type {Map<string, HTMLElement>} knock_id -> its prompt */
    this.prompts = new Map();
    this._wasHost = null;
    /** @type {boolean|undefined} the last signed_in_only seen, to say when it changes */
    this._signedInOnly = undefined;
    this.controls.on('change', (update) => this._onChange(update));
    new MutationObserver(() => this.renderTiles()).observe(this.grid, { childList: true });
    $('host-button').addEventListener('click', () => this.dialog.showModal());
    $('lock-switch').addEventListener('change', (e) => this._toggle('locked', e.target));
    $('knock-switch').addEventListener('change', (e) => this._toggle('knock', e.target));
    // Only where sign-in providers are configured (templates/pages/hosting.html).
    $('signed-in-switch')?.addEventListener('change',
      (e) => this._toggle('signed_in_only', e.target));
    this.grid.addEventListener('click', (event) => this._onGridClick(event));
    this.grid.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && event.target.closest('.host-confirm')) {
        this._closeConfirm(event.target.closest('.tile'));
      }
    });
  }

  /**
   * Follow a room: call before joining it, so that the welcome is caught.
   * @param {import('./signaling.js').SignalingClient} signaling
   * @param {import('./room.js').RoomClient} room
   */
  connect(signaling, room) {
    this.room = room;
    this._wasHost = null;
    this.controls.use(signaling);
    // Tiles know a player's account only once the room has read the welcome.
    room.on('welcome', () => this.render());
  }

  // -- the door: a newcomer to a locked room --------------------------------------------

  /**
   * Join through `attempt` (which connects and shows the call). A locked room with
   * knocking on sends the newcomer to the door until the host answers; then it tries
   * again. Rejects with a SignalingError whose message a person can read: the room is
   * locked, the host turned you away, you stopped waiting, or the attempt's own error.
   * @template T
   * @param {() => Promise<T>} attempt
   * @param {{roomId: string, displayName: string}} options
   * @returns {Promise<T>}
   */
  async enter(attempt, { roomId, displayName }) {
    try {
      return await attempt();
    } catch (error) {
      if (error.code === 'sign_in_required') {
        throw new SignalingError(error.code, SIGN_IN_MESSAGE, error.data);
      }
      if (error.code !== 'room_locked') throw error;
      if (!error.data?.knock) throw new SignalingError('room_locked', LOCKED_MESSAGE, error.data);
    }
    const knocker = new Knocker(globalThis.location.origin);
    const cancel = () => knocker.cancel();
    const stopPending = knocker.on('pending', () => this._door('waiting'));
    $('door-cancel').addEventListener('click', cancel);
    this._door('knocking');
    try {
      if (!await knocker.knock(roomId, { displayName })) {
        throw new SignalingError('turned_away', 'The host didn\'t let you in this time.');
      }
      this._door('joining');
      return await attempt();
    } catch (error) {
      // Knocking was turned off, or our admission ran out before we joined.
      if (error.code === 'room_locked') throw new SignalingError('room_locked', LOCKED_MESSAGE);
      throw error;
    } finally {
      stopPending();
      $('door-cancel').removeEventListener('click', cancel);
      this._door(null);
    }
  }

  /** @param {?('knocking'|'waiting'|'joining')} state null: back to the join form */
  _door(state) {
    const door = $('door');
    const form = $('join-form');
    const wasOpen = !door.hidden;
    door.hidden = !state;
    form.hidden = Boolean(state);
    this.root.dataset.door = state ?? '';
    if (!state) return;
    const joining = state === 'joining';
    $('door-title').textContent = joining ? 'The host let you in' : 'Waiting for the host to let you in…';
    $('door-status').textContent = joining ? 'Joining the table…'
      : 'The host has locked this room and has been asked to let you in. You join as soon as they do.';
    $('door-cancel').hidden = joining;
    if (!wasOpen) $('door-cancel').focus();  // the Join button we came from is gone
  }

  // -- what the page shows ---------------------------------------------------------------

  /** @param {import('./hosting.js').RoomUpdate} update */
  _onChange(update) {
    this._announce(update);
    this.render();
  }

  render() {
    const { control } = this.controls;
    const isHost = this.controls.isHost;
    const button = $('host-button');
    button.hidden = !isHost;
    button.dataset.locked = String(control.locked);
    const state = !control.locked ? 'open' : control.knock ? 'locked, knocking on' : 'locked';
    button.querySelector('.control-label').textContent = control.locked ? 'Locked' : 'Open';
    button.setAttribute('aria-label', `Who may join (host): the room is ${state}`);
    // Everyone else sees that the room is locked; the host sees it on their button.
    const lock = $('room-lock');
    lock.hidden = !(control.locked || control.signed_in_only) || isHost;
    const locked = !control.locked ? '' : control.knock ? 'Locked · knock to join' : 'Locked';
    lock.textContent = control.signed_in_only
      ? [locked, 'Signed-in players only'].filter(Boolean).join(' · ') : locked;
    this._renderDialog(isHost);
    this._renderKnocks(isHost);
    this.renderTiles();
  }

  /** @param {boolean} isHost */
  _renderDialog(isHost) {
    const { control } = this.controls;
    if (!isHost && this.dialog.open) this.dialog.close();
    for (const [id, value] of [['lock-switch', control.locked], ['knock-switch', control.knock],
      ['signed-in-switch', control.signed_in_only]]) {
      const input = $(id);
      if (input && !input.dataset.pending) input.checked = value;  // pending: ours is on its way
    }
    const waiting = this.controls.knocks.size;
    const text = !control.locked ? 'The room is open: anyone with the link can join.'
      : control.knock ? 'The room is locked: newcomers knock, and you let them in.'
        : 'The room is locked: nobody new can join.';
    $('host-state').textContent = waiting
      ? `${text} ${waiting} waiting at the door: close this to answer.` : text;
  }

  /** @param {boolean} isHost */
  _renderKnocks(isHost) {
    const knocks = isHost ? this.controls.knockList() : [];
    const live = new Set(knocks.map((knock) => knock.knock_id));
    for (const [id, prompt] of this.prompts) {
      if (!live.has(id)) {
        prompt.remove();
        this.prompts.delete(id);
      }
    }
    const region = $('knocks');
    for (const knock of knocks) {
      if (this.prompts.has(knock.knock_id)) continue;
      const prompt = knockPrompt(knock, (admit) => this._answer(knock.knock_id, admit, prompt));
      this.prompts.set(knock.knock_id, prompt);
      region.append(prompt);
    }
    region.hidden = knocks.length === 0;
  }

  /** Every tile: the host badge for everyone, "Make host" on the others' for the host. */
  renderTiles() {
    const { control } = this.controls;
    const isHost = this.controls.isHost;
    for (const tile of this.grid.querySelectorAll(':scope > .tile[data-peer-id]')) {
      const el = /** @type {HTMLElement} */ (tile);
      const userId = this._userOf(el.dataset.peerId);
      const hosts = userId !== null && userId === control.host;
      el.classList.toggle('host', hosts);
      const badge = el.querySelector('.badge-host');
      if (badge) badge.hidden = !hosts;
      const tool = el.querySelector('.tool-make-host');
      if (!tool) continue;
      const offer = isHost && !hosts && userId !== null && el.classList.contains('remote');
      tool.hidden = !offer;
      const label = `Make ${el.dataset.name || 'this player'} the host`;
      tool.title = label;
      tool.setAttribute('aria-label', label);
      if (!offer) this._closeConfirm(el);
    }
  }

  /** @param {string} peerId @returns {?string} the account behind a tile */
  _userOf(peerId) {
    if (this.room?.self?.peer_id === peerId) return this.room.self.user_id;
    return this.room?.peers.get(peerId)?.user_id ?? null;
  }

  /** @param {?string} userId @returns {string} */
  _nameOf(userId) {
    if (userId && this.room?.self?.user_id === userId) return 'You';
    const peer = [...(this.room?.peers.values() ?? [])].find((p) => p.user_id === userId);
    return peer?.display_name ?? 'Someone';
  }

  /** Tell screen readers what changed that the player did not do themselves. */
  _announce(update) {
    const isHost = this.controls.isHost;
    let text = '';
    const signedInOnlyChanged = this._signedInOnly !== undefined
      && update.signed_in_only !== this._signedInOnly;
    this._signedInOnly = update.signed_in_only;
    if (update.reason === 'welcome') {
      this._wasHost = isHost;
      return;
    }
    if (this._wasHost !== null && isHost !== this._wasHost) {
      text = isHost ? 'You are now the host: you can lock the room and let people in.'
        : `${this._nameOf(update.host)} is now the host.`;
    } else if (update.reason === 'settings' && !isHost && signedInOnlyChanged) {
      text = update.signed_in_only ? 'Only signed-in players may join now.'
        : 'Guests may join again.';
    } else if (update.reason === 'settings' && !isHost) {
      text = !update.locked ? 'The host opened the room.'
        : 'The host locked the room.';
    }
    this._wasHost = isHost;
    if (text) $('host-live').textContent = text;
  }

  // -- the host's actions ----------------------------------------------------------------

  /**
   * The switch shows the server's word once it answers. Meanwhile it is busy, not
   * disabled: a disabled control loses keyboard focus, and with it an Escape that
   * should close the dialog. A second flip while busy is put back (one change at a time).
   * @param {'locked'|'knock'|'signed_in_only'} setting @param {HTMLInputElement} input
   */
  async _toggle(setting, input) {
    if (input.dataset.pending) {
      input.checked = input.dataset.pending === 'on';
      return;
    }
    const value = input.checked;
    const error = $('host-error');
    error.textContent = '';
    input.dataset.pending = value ? 'on' : 'off';
    input.setAttribute('aria-busy', 'true');
    try {
      const set = { locked: 'setLocked', knock: 'setKnock', signed_in_only: 'setSignedInOnly' };
      await this.controls[set[setting]](value);
    } catch (failure) {
      error.textContent = `Could not change that: ${failure.message || failure}`;
    } finally {
      delete input.dataset.pending;
      input.removeAttribute('aria-busy');
      this.render();  // the server's word, whatever we asked
    }
  }

  /** @param {string} knockId @param {boolean} admit @param {HTMLElement} prompt */
  async _answer(knockId, admit, prompt) {
    const buttons = prompt.querySelectorAll('button');
    buttons.forEach((button) => { button.disabled = true; });
    prompt.querySelector('.knock-error').textContent = '';
    try {
      await this.controls.answer(knockId, admit);
    } catch (error) {
      if (error.code === 'unknown_knock') return;  // they left: the prompt is gone
      prompt.querySelector('.knock-error').textContent = `Could not answer: ${error.message}`;
      buttons.forEach((button) => { button.disabled = false; });
    }
  }

  /** @param {MouseEvent} event the tiles' host tools, by delegation */
  _onGridClick(event) {
    const target = /** @type {HTMLElement} */ (event.target);
    const tile = /** @type {?HTMLElement} */ (target.closest('.tile[data-peer-id]'));
    if (!tile) return;
    if (target.closest('.tool-make-host')) this._askMakeHost(tile);
    else if (target.closest('.host-confirm-cancel')) this._closeConfirm(tile);
    else if (target.closest('.host-confirm-yes')) this._makeHost(tile);
  }

  /** A confirm step: handing the role on is not undone by a stray click. */
  _askMakeHost(tile) {
    const confirm = tile.querySelector('.host-confirm');
    confirm.querySelector('.host-confirm-text').textContent =
      `Make ${tile.dataset.name || 'this player'} the host? They get the lock, the knock `
      + 'prompts and Remove from room, and you no longer do.';
    confirm.querySelector('.host-confirm-error').textContent = '';
    confirm.hidden = false;
    confirm.querySelector('.host-confirm-cancel').focus();
  }

  async _makeHost(tile) {
    const confirm = tile.querySelector('.host-confirm');
    const button = confirm.querySelector('.host-confirm-yes');
    button.disabled = true;
    try {
      await this.controls.makeHost(tile.dataset.peerId);
      this._closeConfirm(tile);
    } catch (error) {
      confirm.querySelector('.host-confirm-error').textContent =
        `Could not hand it on: ${error.message || error}`;
    } finally {
      button.disabled = false;
    }
  }

  /** @param {?HTMLElement} tile */
  _closeConfirm(tile) {
    const confirm = tile?.querySelector('.host-confirm');
    if (confirm && !confirm.hidden) confirm.hidden = true;
  }
}

/**
 * "Bo wants to join — Admit / Turn away".
 * @param {import('./hosting.js').Knock} knock
 * @param {(admit: boolean) => void} onAnswer
 * @returns {HTMLElement}
 */
function knockPrompt(knock, onAnswer) {
  const name = knock.display_name || 'Someone';
  const prompt = document.createElement('div');
  prompt.className = 'knock-prompt';
  prompt.dataset.knockId = knock.knock_id;
  prompt.setAttribute('role', 'group');
  prompt.setAttribute('aria-label', `${name} wants to join`);
  const text = document.createElement('p');
  text.className = 'knock-text';
  const who = document.createElement('strong');
  who.textContent = name;
  text.append(who, ' wants to join');
  const admit = button('Admit', `Admit ${name}`, 'button small primary knock-admit');
  const deny = button('Turn away', `Turn ${name} away`, 'button small knock-deny');
  admit.addEventListener('click', () => onAnswer(true));
  deny.addEventListener('click', () => onAnswer(false));
  const error = document.createElement('p');
  error.className = 'form-error knock-error';
  error.setAttribute('role', 'alert');
  prompt.append(text, admit, deny, error);
  return prompt;
}

/** @param {string} text @param {string} label @param {string} className */
function button(text, label, className) {
  const el = document.createElement('button');
  el.type = 'button';
  el.className = className;
  el.textContent = text;
  el.setAttribute('aria-label', label);
  return el;
}
