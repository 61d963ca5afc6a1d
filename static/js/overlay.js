/**
 * The stream overlay page: polls the room's overlay state (a read-only token in the
 * link) and shows each player's life, poison, commander damage and the turn. Text goes
 * in with textContent only. No sign-in, no socket: a browser source in OBS just loads it.
 * @module overlay
 */

const POLL_MS = 1000;
const RETRY_MS = 5000;

const root = document.getElementById('overlay');
const list = document.getElementById('overlay-players');
const note = document.getElementById('overlay-note');
let version = null;

async function poll() {
  const params = new URLSearchParams({ token: root.dataset.token });
  if (version != null) params.set('since', String(version));
  let wait = POLL_MS;
  try {
    const response = await fetch(
      `/api/rooms/${encodeURIComponent(root.dataset.roomId)}/overlay/state?${params}`,
      { cache: 'no-store', credentials: 'omit' });
    if (response.status === 403 || response.status === 404) {
      const body = await response.json().catch(() => ({}));
      show(body.error?.message ?? 'This overlay link no longer works.');
      list.replaceChildren();
      return;  // revoked: nothing more will come
    }
    if (response.status === 200) {
      const view = await response.json();
      version = view.version;
      render(view);
      show('');
    } else if (response.status !== 204) {
      wait = RETRY_MS;
    }
  } catch {
    wait = RETRY_MS;  // the server is away (a restart): keep the last numbers, try again
  }
  setTimeout(poll, wait);
}

function show(text) {
  note.textContent = text;
  note.hidden = !text;
}

function render(view) {
  root.dataset.version = String(view.version);
  list.replaceChildren(...view.players.map((player) => {
    const li = document.createElement('li');
    li.className = 'overlay-player';
    li.classList.toggle('active', player.active);
    li.classList.toggle('out', player.out);
    const life = el('span', 'overlay-life', String(player.life));
    const name = el('span', 'overlay-name', player.name + (player.monarch ? ' ♛' : ''));
    const extra = el('span', 'overlay-extra', '');
    if (player.active) extra.append(el('span', 'overlay-turn', `Turn ${view.turn}`));
    if (player.poison) extra.append(el('span', 'overlay-poison', `☠ ${player.poison}`));
    if (player.commander) extra.append(el('span', 'overlay-cmd', `⚔ ${player.commander}`));
    li.append(life, name, extra);
    li.setAttribute('aria-label', `${player.name}: ${player.life} life`
      + (player.active ? ', their turn' : ''));
    return li;
  }));
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

poll();
