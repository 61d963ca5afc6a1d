/**
 * "Remove from room" on a tile: a confirm step, since removing someone is not undone by
 * a stray click. The tile goes when the server's peer-left arrives.
 * @module tilekick
 */

/**
 * @param {HTMLElement} el the tile
 * @param {() => import('./signaling.js').Peer} peer the tile's player, as now known
 * @param {(peerId: string) => Promise<void>} onKick
 */
export function wireKick(el, peer, onKick) {
  const confirm = el.querySelector('.tile-confirm');
  const button = confirm.querySelector('.confirm-kick');
  el.querySelector('.tool-kick').addEventListener('click', () => {
    confirm.querySelector('.confirm-text').textContent =
      `Remove ${peer().display_name ?? 'this player'} from the room? They can't come back `
      + 'for 10 minutes.';
    confirm.querySelector('.confirm-error').textContent = '';
    confirm.hidden = false;
    confirm.querySelector('.confirm-cancel').focus();
  });
  confirm.querySelector('.confirm-cancel').addEventListener('click', () => closeKick(el));
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await onKick(peer().peer_id);
    } catch (error) {
      confirm.querySelector('.confirm-error').textContent =
        `Could not remove them: ${error.message || error}`;
    } finally {
      button.disabled = false;
    }
  });
}

/** @param {HTMLElement} el the tile */
export function closeKick(el) {
  const confirm = el.querySelector('.tile-confirm');
  if (confirm) confirm.hidden = true;
}
