/**
 * The call page's empty state: alone at the table, say "Waiting for others" with the
 * invite link and a copy button, over the stage. ui.js mounts it and tells it how many
 * others are seated.
 * @module waiting
 */

export class WaitingCard {
  /**
   * @param {HTMLElement} stage where the card is shown
   * @param {string} inviteUrl
   */
  constructor(stage, inviteUrl) {
    this.el = build(inviteUrl);
    this.button = this.el.querySelector('.waiting-copy');
    this.button.addEventListener('click', () => this.copy(inviteUrl));
    stage.append(this.el);
  }

  /** @param {number} others players at the table besides this one */
  update(others) {
    this.el.hidden = others > 0;
  }

  async copy(link) {
    try {
      await navigator.clipboard.writeText(link);
      this.button.textContent = 'Link copied';
    } catch {
      // No clipboard (an http page, a refusal): select the link to copy by hand.
      this.el.querySelector('.waiting-link').select();
      this.button.textContent = 'Press Ctrl+C to copy';
    }
    clearTimeout(this.reset);
    this.reset = setTimeout(() => { this.button.textContent = 'Copy link'; }, 2500);
  }
}

/** @param {string} inviteUrl @returns {HTMLElement} */
function build(inviteUrl) {
  const card = document.createElement('section');
  card.className = 'waiting-card';
  card.id = 'waiting-card';
  card.setAttribute('aria-labelledby', 'waiting-title');
  const title = document.createElement('h2');
  title.id = 'waiting-title';
  title.textContent = 'Waiting for others';
  const text = document.createElement('p');
  text.textContent = 'Nobody else is at the table yet. Send them this link:';
  const row = document.createElement('div');
  row.className = 'waiting-row';
  const link = document.createElement('input');
  link.className = 'waiting-link';
  link.readOnly = true;
  link.value = inviteUrl;
  link.setAttribute('aria-label', 'Invite link');
  link.addEventListener('focus', () => link.select());
  const copy = document.createElement('button');
  copy.type = 'button';
  copy.className = 'button primary small waiting-copy';
  copy.textContent = 'Copy link';
  row.append(link, copy);
  card.append(title, text, row);
  return card;
}
