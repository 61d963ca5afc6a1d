/**
 * The call's own keyboard shortcuts: M mute, V camera, F full screen, ? this list,
 * Escape closes whatever panel is open. The game's keys (+ − P E T U D C) live in
 * game-ui.js; none of these letters is one of them, and a key the game already handled
 * (defaultPrevented) is left alone.
 * @module shortcuts
 */

/** Panels that Escape closes, first found first: a tile's confirm step, then the drawer. */
const PANELS = ['.tile-confirm:not([hidden]) .confirm-cancel',
  '.host-confirm:not([hidden]) .host-confirm-cancel', '#drawer:not([hidden]) #drawer-close'];

export class CallShortcuts {
  /**
   * @param {HTMLElement} root the room page; shortcuts work while it shows the call
   * @param {Record<string, () => void>} actions by lower-case key: m, v, f
   */
  constructor(root, actions) {
    this.root = root;
    this.actions = actions;
    document.addEventListener('keydown', (event) => this._onKey(event));
  }

  /** @param {KeyboardEvent} event */
  _onKey(event) {
    if (this.root.dataset.view !== 'call' || event.defaultPrevented
        || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === 'Escape') {
      if (this._closePanel()) event.preventDefault();
      return;
    }
    const target = /** @type {HTMLElement} */ (event.target);
    if (document.querySelector('dialog[open]')
        || target.closest?.('input, textarea, select, [contenteditable="true"]')) return;
    if (event.key === '?') {
      document.getElementById('keys-dialog')?.showModal();
      event.preventDefault();
      return;
    }
    const run = this.actions[event.key.toLowerCase()];
    if (!run || event.shiftKey) return;
    event.preventDefault();
    run();
  }

  /** @returns {boolean} whether a panel was open (and is now closed) */
  _closePanel() {
    for (const selector of PANELS) {
      const close = /** @type {?HTMLElement} */ (this.root.querySelector(selector));
      if (close) {
        close.click();
        return true;
      }
    }
    return false;
  }
}
