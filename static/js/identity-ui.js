/**
 * A signed-in player's picture and "signed in" mark on their tile (rhystic/oauth.py).
 *
 * The seat's public info carries `signed_in: true` and `avatar_url` (an https URL, or
 * null) only for accounts a sign-in provider vouches for; a guest's tile is untouched.
 * tiles.js calls this from its render; the parts are made here, with no template change.
 * @module identity-ui
 */

/**
 * @param {HTMLElement} tile the tile (tiles.js owns it)
 * @param {{signed_in?: boolean, avatar_url?: ?string, display_name?: string}} peer
 */
export function showIdentity(tile, peer) {
  const caption = tile.querySelector('.tile-caption');
  if (!caption) return;
  const signedIn = peer.signed_in === true;
  tile.dataset.signedIn = signedIn ? '1' : '0';
  let avatar = /** @type {?HTMLImageElement} */ (caption.querySelector('.tile-avatar'));
  const url = signedIn && typeof peer.avatar_url === 'string'
    && peer.avatar_url.startsWith('https://') ? peer.avatar_url : null;
  if (url && !avatar) {
    avatar = document.createElement('img');
    avatar.className = 'tile-avatar';
    avatar.alt = '';  // the name beside it says who it is
    avatar.width = 20;
    avatar.height = 20;
    avatar.referrerPolicy = 'no-referrer';
    avatar.decoding = 'async';
    // A picture that does not load (gone, or blocked) is left out, not shown broken.
    avatar.addEventListener('error', () => { avatar.hidden = true; });
    avatar.addEventListener('load', () => { avatar.hidden = false; });
    caption.prepend(avatar);
  }
  if (avatar && avatar.getAttribute('src') !== url) {
    avatar.hidden = true;  // until it loads
    if (url) avatar.src = url;
    else avatar.removeAttribute('src');
  }
  let mark = caption.querySelector('.badge-signed-in');
  if (signedIn && !mark) {
    mark = document.createElement('span');
    mark.className = 'badge badge-signed-in';
    mark.textContent = 'Signed in';
    mark.title = 'A sign-in provider vouches for this player\'s account';
    caption.querySelector('.tile-name')?.after(mark);
  }
  if (mark) /** @type {HTMLElement} */ (mark).hidden = !signedIn;
}
