"""Steps and checks shared by the end-to-end tests."""
import json
import os
import time

from servers import ROOT, wait_until

# Tracks each remote tile between calls: a link is live when its <video> has a size,
# its decoded frame count rises and its pixels change (window.__probe holds the baseline).
LIVE_LINKS = """
(expected) => {
  const probe = window.__probe || (window.__probe = {});
  const tiles = [...document.querySelectorAll('#grid .tile.remote')];
  if (tiles.length !== expected.length) return false;
  const canvas = probe.canvas || (probe.canvas = document.createElement('canvas'));
  canvas.width = 32; canvas.height = 24;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  let live = true;
  for (const tile of tiles) {
    if (!expected.includes(tile.dataset.name)) return false;
    const video = tile.querySelector('video');
    if (!video.videoWidth) { live = false; continue; }
    const frames = video.getVideoPlaybackQuality().totalVideoFrames;
    ctx.drawImage(video, 0, 0, 32, 24);
    const data = ctx.getImageData(0, 0, 32, 24).data;
    let sig = 0;
    for (let i = 0; i < data.length; i += 4) sig = (sig * 31 + data[i] + 3 * data[i + 1] + 7 * data[i + 2]) >>> 0;
    const key = tile.dataset.peerId;
    const seen = probe[key];
    if (!seen) { probe[key] = {frames, sig, moving: false, changing: false}; live = false; continue; }
    if (frames >= seen.frames + 3) seen.moving = true;
    if (sig !== seen.sig) seen.changing = true;
    if (!(seen.moving && seen.changing)) live = false;
  }
  return live;
}
"""

MEAN_COLOUR = """
(name) => {
  const tile = [...document.querySelectorAll('#grid .tile.remote')].find((t) => t.dataset.name === name);
  const video = tile && tile.querySelector('video');
  if (!video || !video.videoWidth) return null;
  const canvas = document.createElement('canvas');
  canvas.width = 40; canvas.height = 30;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(video, 0, 0, 40, 30);
  const data = ctx.getImageData(0, 0, 40, 30).data;
  const sum = [0, 0, 0];
  for (let i = 0; i < data.length; i += 4) { sum[0] += data[i]; sum[1] += data[i + 1]; sum[2] += data[i + 2]; }
  const n = data.length / 4;
  return sum.map((v) => Math.round(v / n));
}
"""

# The selected candidate pair of every peer connection, read straight from getStats.
SELECTED_PAIRS = """
async () => {
  const pairs = [];
  for (const pc of window.__pcs || []) {
    if (pc.connectionState !== 'connected') continue;
    const stats = await pc.getStats();
    const byId = new Map();
    stats.forEach((s) => byId.set(s.id, s));
    stats.forEach((s) => {
      if (s.type !== 'transport' || !s.selectedCandidatePairId) return;
      const pair = byId.get(s.selectedCandidatePairId);
      pairs.push({local: byId.get(pair.localCandidateId).candidateType,
                  remote: byId.get(pair.remoteCandidateId).candidateType});
    });
  }
  return pairs;
}
"""


def join_room(page, name=None):
    """On a room page: type the name if asked, click Join, wait for the call view."""
    if name is not None:
        page.fill('#name-input', name)
    page.click('#join-button')
    page.wait_for_selector('#room-app[data-view="call"]')


def create_room(page, base_url, name, join=True, seats=8):
    """Home page: type a name, create a room of `seats` seats (the form's own default
    is 4), join it (or stay in its lobby). Returns the invite link."""
    page.goto(base_url + '/')
    page.fill('#display-name', name)
    page.select_option('#seat-count', str(seats))
    page.click('#create-room')
    page.wait_for_url('**/r/**')
    if join:
        join_room(page)
    return page.url


def open_invite(page, url, name):
    page.goto(url)
    join_room(page, name)


TILE_STATES = """() => [...document.querySelectorAll('#grid .tile.remote')].map((t) => {
  const v = t.querySelector('video');
  return `${t.dataset.name}: ${t.dataset.state} ${v.videoWidth}px `
    + `${v.getVideoPlaybackQuality().totalVideoFrames} frames, ${t.textContent.trim()}`;
})"""


def wait_live(page, names, timeout=30000):
    """Every remote tile (exactly the given names) shows live video."""
    page.evaluate('() => { window.__probe = {}; }')
    try:
        page.wait_for_function(LIVE_LINKS, arg=sorted(names), timeout=timeout, polling=250)
    except Exception as exc:
        states = page.evaluate(TILE_STATES)
        log = getattr(page, 'console_log', [])[-30:]
        raise AssertionError(f'links not live on {page.url} after {timeout} ms; expected '
                             f'{sorted(names)}; tiles: {states}; console: {log}') from exc


def tile(page, name):
    return page.locator(f'#grid .tile.remote[data-name="{name}"]')


def record_timing(artifacts, key, seconds):
    path = os.path.join(artifacts, 'e2e-timings.json')
    try:
        with open(path) as f:
            timings = json.load(f)
    except (OSError, ValueError):
        timings = {}
    timings[key] = round(seconds, 2)
    with open(path, 'w') as f:
        json.dump(timings, f, indent=2, sort_keys=True)


class Stopwatch:
    def __init__(self):
        self.start = time.monotonic()

    def elapsed(self):
        return time.monotonic() - self.start


# Click Join on every page at one shared wall-clock moment: pages on one machine share
# Date.now(), so the clicks land within a frame of each other.
CLICK_JOIN_AT = """(at) => setTimeout(() => document.getElementById('join-button').click(),
  Math.max(0, at - Date.now()))"""

# Records in the page (Date.now()) the first moment every remote tile is live, polling
# in the page itself so that checking eight pages one after another adds no delay.
WATCH_LIVE = """([expected, interval]) => {
  const live = %s;
  window.__allLiveAt = null;
  const timer = setInterval(() => {
    if (live(expected)) { window.__allLiveAt = Date.now(); clearInterval(timer); }
  }, interval);
}""" % LIVE_LINKS.strip()

# Every peer connection as the browser sees it, for the failure message.
PEER_CONNECTIONS = """() => (window.__pcs || []).map((pc) =>
  `${pc.signalingState}/${pc.iceConnectionState}/${pc.connectionState}`)"""


def join_together(pages, delay_ms=800):
    """Click Join on every lobby page at the same instant; returns that instant (ms)."""
    at = max(page.evaluate('() => Date.now()') for page in pages) + delay_ms
    for page in pages:
        page.evaluate(CLICK_JOIN_AT, at)
    return at


def wait_all_live(pages, names, timeout=60000):
    """Each page (name -> Page) sees every other name live; returns the latest moment
    (Date.now() in the pages) at which a page had all its links live."""
    for name, page in pages.items():
        page.evaluate(WATCH_LIVE, [sorted(n for n in names if n != name), 500])
    latest = 0
    for name, page in pages.items():
        try:
            page.wait_for_function('() => window.__allLiveAt', timeout=timeout, polling=250)
        except Exception as exc:
            report = {n: {'tiles': p.evaluate(TILE_STATES), 'pcs': p.evaluate(PEER_CONNECTIONS),
                          'trace': p.evaluate('() => window.__pcTrace'),
                          'console': getattr(p, 'console_log', [])[-20:]}
                      for n, p in pages.items()}
            path = os.path.join(ROOT, 'test-artifacts', 'links-not-live.json')
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as f:
                json.dump(report, f, indent=1)
            tiles = {n: r['tiles'] for n, r in report.items()}
            raise AssertionError(f'{name} not fully live after {timeout} ms (timelines in '
                                 f'{path}): {json.dumps(tiles, indent=1)}') from exc
        latest = max(latest, page.evaluate('() => window.__allLiveAt'))
    return latest


# What negotiation cost, per page: offers made, ICE restarts, failed descriptions, and
# when (seconds after `since`, a Date.now()) the last peer connection was connected.
NEGOTIATION_SUMMARY = """(since) => {
  const traces = window.__pcTrace || [];
  const lines = traces.flat();
  const count = (re) => lines.filter((l) => re.test(l)).length;
  const connected = traces.map((log) => log.find((l) => /connectionstatechange .*\\/connected$/.test(l)))
    .filter(Boolean).map((l) => Number(l.split(' ')[0]));
  return {pcs: traces.length, offers: count(/ SLD offer /), restarts: count(/ restartIce$/),
          failed: count(/ failed /),
          all_connected_s: connected.length ? (Math.max(...connected) - since) / 1000 : null};
}"""


def negotiation_summary(pages, since):
    return {name: page.evaluate(NEGOTIATION_SUMMARY, since) for name, page in pages.items()}


# -- the game table (test_game_table.py) ---------------------------------------------

# Every visible control (and life total) of the call page that overlaps another, as
# "a x b" strings. Boxes inside the stage are clipped to it first, since the stage
# scrolls on a phone and what is scrolled away overlaps nothing. Under an open modal
# dialog only the dialog counts (the page beneath is inert), and a tile's controls
# under the open drawer (a phone's drawer covers the tiles) are not there to click.
CONTROL_OVERLAPS = """() => {
  const stage = document.getElementById('stage').getBoundingClientRect();
  const modal = document.querySelector('dialog[open]');
  const drawer = document.getElementById('drawer');
  const sel = '#call button, #call input, #call select, #call .pod-total';
  const label = (el) => (el.id ? '#' + el.id : el.className) + ' @'
    + (el.closest('.tile')?.dataset.name ?? el.closest('[id]')?.id ?? '');
  const boxes = [];
  for (const el of document.querySelectorAll(sel)) {
    if (el.closest('[hidden], dialog:not([open])')) continue;
    if (modal && !modal.contains(el)) continue;
    if (el.closest('#stage') && !drawer.hidden) {
      const r = el.getBoundingClientRect();
      const top = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
      if (top && drawer.contains(top)) continue;
    }
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    // Tile tools wait out of sight, untouchable, until hover, focus or a tap (issue 10).
    const tools = el.closest('.tile-tools');
    if (tools && getComputedStyle(tools).opacity === '0') continue;
    let r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) continue;
    if (el.closest('#stage')) {
      r = {left: Math.max(r.left, stage.left), right: Math.min(r.right, stage.right),
           top: Math.max(r.top, stage.top), bottom: Math.min(r.bottom, stage.bottom)};
      if (r.right - r.left < 1 || r.bottom - r.top < 1) continue;
    }
    boxes.push({el, r});
  }
  const out = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i].r, b = boxes[j].r;
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 1 && h > 1) out.push(`${label(boxes[i].el)} x ${label(boxes[j].el)}`);
    }
  }
  return out;
}"""

# The height in px of every life total shown, by the tile's player name.
LIFE_HEIGHTS = """() => Object.fromEntries([...document.querySelectorAll('#grid .tile')]
  .filter((t) => t.querySelector('.game-pod:not([hidden])'))
  .map((t) => [t.dataset.name, t.querySelector('.pod-total').getBoundingClientRect().height]))"""

# What a player sees of the table: each tile's total, chips and turn marker, and the
# drawer's game log and chat (open the drawer first: it renders while open).
TABLE_VIEW = """() => ({
  tiles: [...document.querySelectorAll('#grid .tile')].map((t) => {
    const pod = t.querySelector('.game-pod');
    if (!pod || pod.hidden) return [t.dataset.name, null];
    const chips = [...pod.querySelectorAll('.pod-chip:not([hidden])')].map((c) => c.textContent);
    return [t.dataset.name, pod.querySelector('.pod-total').textContent, chips,
            t.classList.contains('game-active')];
  }).sort(),
  log: [...document.querySelectorAll('#feed .feed-game .feed-text')].map((e) => e.textContent),
  chat: [...document.querySelectorAll('#feed .feed-chat')].map(
    (e) => [e.querySelector('.feed-name').textContent, e.querySelector('.feed-text').textContent]),
})"""

LIFE_IS = """([name, value]) => {
  const total = document.querySelector(`#grid .tile[data-name="${name}"] .pod-total`);
  return total && total.textContent === value && total.dataset.pending !== 'true';
}"""


def life(page, name):
    return page.locator(f'#grid .tile[data-name="{name}"] .pod-total').inner_text()


def wait_life(pages, name, value, timeout=10000):
    """Every page shows `name`'s life as `value`, confirmed by the server."""
    for page in pages:
        page.wait_for_function(LIFE_IS, arg=[name, str(value)], timeout=timeout)


def pod(page, name):
    return page.locator(f'#grid .tile[data-name="{name}"] .game-pod')


def open_drawer(page):
    if page.locator('#drawer').is_hidden():
        page.click('#drawer-button')
    page.locator('#drawer').wait_for(state='visible')


def close_dialogs(page):
    page.evaluate("() => document.querySelectorAll('dialog[open]').forEach((d) => d.close())")


# Per remote tile (by name), read from its own peer connection (found by the tile's
# tracks): the data channel's state, the media sections in use, the audio received
# (RTP packets, energy) and the cap on the video we send on that link.
LINK_DETAILS = """async () => {
  const out = {};
  for (const tile of document.querySelectorAll('#grid .tile.remote')) {
    const stream = tile.querySelector('video').srcObject;
    const tracks = stream ? stream.getTracks() : [];
    const pc = (window.__pcs || []).find((pc) => pc.signalingState !== 'closed'
      && pc.getReceivers().some((r) => tracks.includes(r.track)));
    if (!pc) { out[tile.dataset.name] = null; continue; }
    const kinds = pc.getTransceivers()
      .filter((t) => t.mid !== null && t.currentDirection !== 'stopped')
      .map((t) => t.receiver.track.kind).sort();
    const video = pc.getSenders().find((s) => s.track && s.track.kind === 'video');
    const encoding = video && (video.getParameters().encodings || [])[0];
    let audioPackets = 0, audioEnergy = 0;
    (await pc.getStats()).forEach((s) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'audio') return;
      audioPackets += s.packetsReceived || 0;
      audioEnergy += s.totalAudioEnergy || 0;
    });
    out[tile.dataset.name] = {
      channels: pc.__channels.map((c) => `${c.label}:${c.readyState}`), kinds,
      audioPackets, audioEnergy, videoMaxBitrate: encoding ? encoding.maxBitrate : null,
    };
  }
  return out;
}"""


def link_details(page):
    return page.evaluate(LINK_DETAILS)


def wait_links_complete(pages, speakers, timeout=60):
    """On every page (name -> Page), every remote link has its data channel open and
    exactly one audio and one video section, and the links from `speakers` (the players
    with a microphone) carry audio: packets keep arriving and some have energy.
    Returns the number of links that carry audio."""
    first = {name: link_details(page) for name, page in pages.items()}
    state = {}

    def complete():
        ok = True
        for name, page in pages.items():
            state[name] = details = link_details(page)
            for other, link in details.items():
                before = (first[name].get(other) or {}).get('audioPackets', 0)
                good = (link is not None and link['channels'] == ['rhystic:open']
                        and link['kinds'] == ['audio', 'video'])
                if good and other in speakers:
                    good = link['audioPackets'] >= before + 25 and link['audioEnergy'] > 0
                ok = ok and good
        return ok

    try:
        wait_until(complete, timeout, interval=1, message='data channels and audio on every link')
    except AssertionError as exc:
        raise AssertionError(f'{exc}: {json.dumps(state, indent=1)}') from None
    return sum(1 for name, details in state.items() for other in details if other in speakers)

# The table's buttons and fields that a screen reader would read without a name.
UNLABELLED = """() => [...document.querySelectorAll(
    '.game-pod button, .game-bar button, #drawer button, #drawer input, .game-dialog button,'
    + ' .game-dialog input, .game-dialog select')]
  .filter((el) => el.getClientRects().length && !el.closest('[hidden]'))
  .filter((el) => !(el.getAttribute('aria-label') || el.labels?.length
    || el.textContent.trim() || el.getAttribute('placeholder')))
  .map((el) => el.outerHTML.slice(0, 120))"""
