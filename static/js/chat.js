/**
 * The chat and log drawer: the room's chat and the game log in one stream, with a
 * filter, undo on log entries, and a box to write in. Every text from the server is
 * put in with textContent, never as HTML, and a link in a message stays plain text:
 * nothing is followed or fetched for it.
 * @module chat
 */
import { describeEntry } from './game-text.js';

const AT_BOTTOM_PX = 40;

export class ChatDrawer {
  /**
   * @param {import('./game.js').GameClient} game
   * @param {{drawer: HTMLElement, button: HTMLButtonElement, unread: HTMLElement,
   *          nameOf: (userId: ?string) => string}} parts
   */
  constructor(game, { drawer, button, unread, nameOf }) {
    this.game = game;
    this.drawer = drawer;
    this.button = button;
    this.unreadBadge = unread;
    this.nameOf = nameOf;
    this.feed = drawer.querySelector('#feed');
    this.input = drawer.querySelector('#chat-input');
    this.error = drawer.querySelector('#chat-error');
    this.older = drawer.querySelector('#feed-older');
    this.unread = 0;
    /** @type {Map<string, HTMLLIElement>} */
    this.items = new Map();
    game.on('change', () => this._refresh());
    game.on('synced', () => this._refresh());
    game.on('chat', (message) => {
      const seen = this.isOpen && this.filter !== 'game';
      if (!seen && message.user_id !== this.game.userId) this._setUnread(this.unread + 1);
      this._refresh();
    });
    drawer.querySelector('#drawer-close').addEventListener('click', () => this.close());
    drawer.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        this.close();
      }
    });
    drawer.querySelector('#chat-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this._send();
    });
    for (const segment of drawer.querySelectorAll('[data-filter]')) {
      segment.addEventListener('click', () => this.setFilter(segment.dataset.filter));
    }
    this.older.addEventListener('click', () => this._loadOlder());
  }

  get isOpen() { return !this.drawer.hidden; }

  get filter() { return this.feed.dataset.filter; }

  toggle() {
    if (this.isOpen) this.close();
    else this.open({ focusInput: false });
  }

  /** @param {{focusInput?: boolean}} [options] */
  open({ focusInput = false } = {}) {
    this.drawer.hidden = false;
    this.button.setAttribute('aria-expanded', 'true');
    this.button.setAttribute('aria-pressed', 'true');
    this._setUnread(0);
    this.render();
    this.feed.scrollTop = this.feed.scrollHeight;
    if (focusInput) this.input.focus();
    else this.drawer.querySelector('#drawer-close').focus();
  }

  close() {
    const hadFocus = this.drawer.contains(document.activeElement);
    this.drawer.hidden = true;
    this.button.setAttribute('aria-expanded', 'false');
    this.button.setAttribute('aria-pressed', 'false');
    if (hadFocus) this.button.focus();
  }

  /** @param {'all'|'chat'|'game'} filter */
  setFilter(filter) {
    this.feed.dataset.filter = filter;
    for (const segment of this.drawer.querySelectorAll('[data-filter]')) {
      segment.setAttribute('aria-pressed', String(segment.dataset.filter === filter));
    }
    this.feed.scrollTop = this.feed.scrollHeight;
  }

  _refresh() {
    if (this.isOpen) this.render();
  }

  /** The chat and the log, oldest first by server time, each item kept between renders. */
  render() {
    const atBottom = this.feed.scrollHeight - this.feed.scrollTop - this.feed.clientHeight < AT_BOTTOM_PX;
    const rows = [
      ...this.game.entries().map((entry) => ({ key: `g${entry.seq}`, at: entry.at, entry })),
      ...this.game.chat.map((message) => ({ key: `c${message.id}`, at: message.at, message })),
    ].sort((a, b) => a.at - b.at);
    const keep = new Set(rows.map((row) => row.key));
    for (const key of this.items.keys()) if (!keep.has(key)) this.items.delete(key);
    const nodes = rows.map((row) => (row.entry ? this._entryItem(row) : this._chatItem(row)));
    const current = [...this.feed.children];
    if (current.length !== nodes.length || current.some((el, i) => el !== nodes[i])) {
      this.feed.replaceChildren(...nodes);
    }
    const first = Math.min(...this.game.log.keys());
    this.older.hidden = !(Number.isFinite(first) && first > 1);
    if (atBottom) this.feed.scrollTop = this.feed.scrollHeight;
  }

  _chatItem({ key, at, message }) {
    let li = this.items.get(key);
    if (li) return li;
    li = item(key, 'chat', at);
    const name = document.createElement('strong');
    name.className = 'feed-name';
    name.textContent = message.name;
    const text = document.createElement('span');
    text.className = 'feed-text';
    text.textContent = message.text;  // as text, never HTML: links stay plain
    li.append(name, text);
    li.classList.toggle('mine', message.user_id === this.game.userId);
    this.items.set(key, li);
    return li;
  }

  _entryItem({ key, at, entry }) {
    let li = this.items.get(key);
    if (!li) {
      li = item(key, 'game', at);
      const text = document.createElement('span');
      text.className = 'feed-text';
      const undo = document.createElement('button');
      undo.type = 'button';
      undo.className = 'button small feed-undo';
      undo.textContent = 'Undo';
      undo.addEventListener('click', () => this._undo(Number(li.dataset.seq)));
      li.append(text, undo);
      this.items.set(key, li);
    }
    li.dataset.seq = String(entry.seq);
    li.dataset.type = entry.type;
    li.querySelector('.feed-time').textContent = clockTime(entry.at);
    const text = describeEntry(entry, this.nameOf);
    li.querySelector('.feed-text').textContent = text;
    const undo = li.querySelector('.feed-undo');
    undo.hidden = !this.game.mayUndo(entry.seq);
    undo.setAttribute('aria-label', `Undo: ${text}`);
    return li;
  }

  async _undo(seq) {
    this.error.textContent = '';
    try {
      await this.game.undo(seq);
    } catch (error) {
      this.error.textContent = `Could not undo: ${error.message}`;
    }
  }

  async _send() {
    const text = this.input.value.trim();
    if (!text) return;
    this.error.textContent = '';
    try {
      await this.game.say(text);
      this.input.value = '';
    } catch (error) {
      this.error.textContent = `Not sent: ${error.message}`;
    }
  }

  async _loadOlder() {
    this.older.disabled = true;
    try {
      if (!(await this.game.loadOlder())) this.older.hidden = true;
    } catch (error) {
      this.error.textContent = error.message;
    } finally {
      this.older.disabled = false;
    }
  }

  _setUnread(count) {
    this.unread = count;
    this.unreadBadge.hidden = !count;
    this.unreadBadge.textContent = count > 99 ? '99+' : String(count);
    this.button.setAttribute('aria-label', count ? `Chat and log, ${count} unread` : 'Chat and log');
  }
}

function item(key, kind, at) {
  const li = document.createElement('li');
  li.className = `feed-item feed-${kind}`;
  li.dataset.kind = kind;
  li.dataset.key = key;
  const time = document.createElement('time');
  time.className = 'feed-time';
  time.textContent = clockTime(at);
  li.append(time);
  return li;
}

function clockTime(at) {
  return new Date(at * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}
