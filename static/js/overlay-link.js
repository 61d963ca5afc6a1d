/**
 * The host's stream overlay link, in the Table dialog: make one (and copy it), see
 * whether one is live, revoke it. The server (rhystic/game/overlay.py) checks that the
 * caller is the host; the page only shows this to the host.
 * @module overlay-link
 */

export class OverlayLink {
  /** @param {HTMLElement} dialog the Table dialog @param {string} roomId */
  constructor(dialog, roomId) {
    this.base = `/api/rooms/${encodeURIComponent(roomId)}/overlay`;
    this.create = dialog.querySelector('#overlay-create');
    this.revoke = dialog.querySelector('#overlay-revoke');
    this.field = dialog.querySelector('#overlay-field');
    this.status = dialog.querySelector('#overlay-status');
    this.input = dialog.querySelector('#overlay-link');
    this.error = dialog.querySelector('.dialog-error');
    this.create.addEventListener('click', () => this._create());
    this.revoke.addEventListener('click', () => this._revoke());
  }

  /** Whether a link is live (its token is shown only when it is made). */
  async refresh() {
    try {
      const { active } = await call('GET', this.base);
      this._show(active, this.input.value);
    } catch (error) {
      this.error.textContent = `Stream overlay: ${error.message}`;
    }
  }

  async _create() {
    try {
      const { url } = await call('POST', this.base);
      this._show(true, url);
      await navigator.clipboard?.writeText(url).then(
        () => { this.status.textContent = 'Overlay link (copied)'; }, () => {});
      this.input.select();
    } catch (error) {
      this.error.textContent = `Stream overlay: ${error.message}`;
    }
  }

  async _revoke() {
    try {
      await call('DELETE', this.base);
      this._show(false, '');
    } catch (error) {
      this.error.textContent = `Stream overlay: ${error.message}`;
    }
  }

  _show(active, url) {
    this.revoke.hidden = !active;
    this.create.textContent = active ? 'Make a new link' : 'Make a link';
    this.field.hidden = !active;
    this.input.value = active ? url : '';
    this.status.textContent = url ? 'Overlay link' : 'A link is live (make a new one to copy it)';
  }
}

async function call(method, url) {
  const token = document.querySelector('meta[name="csrf-token"]')?.content ?? '';
  const response = await fetch(url, {
    method, credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': token },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error?.message ?? `the server said ${response.status}`);
  return body;
}
