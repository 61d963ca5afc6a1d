"""The four-player table of the snapshot tests and bench/browser.py: Alice's camera is a
1920x1080 .y4m with a QR card (tests/y4m.py), in a Chromium of her own; three viewers
with small canvas cameras. Steps and page scripts to read what each page shows."""
import base64
import json
import time

from e2e.conftest import COLOUR_CAMERA, NO_MICROPHONE, RECORD_PEER_CONNECTIONS
from e2e.helpers import create_room, open_invite, tile, wait_live
from y4m import HEIGHT, WIDTH, qr_box, read_qr

VIEWERS = {'Bob': 'rgb(220, 40, 40)', 'Carol': 'rgb(40, 190, 60)', 'Dave': 'rgb(40, 80, 230)'}
CAPTURE = {'RHYSTIC_CAPTURE_WIDTH': str(WIDTH), 'RHYSTIC_CAPTURE_HEIGHT': str(HEIGHT),
           'RHYSTIC_CAPTURE_FPS': '10'}

# A tile's picture (at the size it arrives) or the zoom panel's snapshot, as grey bytes.
GREY = """(selector) => {
  const source = document.querySelector(selector);
  const width = source.videoWidth || source.width, height = source.videoHeight || source.height;
  const canvas = document.createElement('canvas');
  canvas.width = width; canvas.height = height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(source, 0, 0);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const grey = new Uint8Array(width * height);
  for (let i = 0; i < grey.length; i++) {
    grey[i] = Math.round(0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]);
  }
  let text = '';
  for (let i = 0; i < grey.length; i += 8192) {
    text += String.fromCharCode(...grey.subarray(i, i + 8192));
  }
  return {width, height, data: btoa(text)};
}"""

# Where a point of the source frame (normalised) is on the screen, through the tile's
# rotation and flip: the inverse of snapshot-ui.js pointOnSource.
SOURCE_TO_SCREEN = """([name, u, v]) => {
  const video = document.querySelector(`#grid .tile.remote[data-name="${name}"] video`);
  const box = video.getBoundingClientRect();
  const m = new DOMMatrix(getComputedStyle(video).transform);
  const fit = Math.min(video.offsetWidth / video.videoWidth,
                       video.offsetHeight / video.videoHeight);
  const p = new DOMMatrix([m.a, m.b, m.c, m.d, 0, 0]).transformPoint(
    new DOMPoint((u - 0.5) * video.videoWidth * fit, (v - 0.5) * video.videoHeight * fit));
  return {x: box.left + box.width / 2 + p.x, y: box.top + box.height / 2 + p.y};
}"""

# Per remote player (by tile name), from getStats: the video frame width we receive,
# the width we send, and the data channel's bytes received.
LINK_FRAMES = """async () => {
  const out = {};
  for (const t of document.querySelectorAll('#grid .tile.remote')) {
    const tracks = t.querySelector('video').srcObject?.getTracks() ?? [];
    const pc = (window.__pcs || []).find((pc) => pc.signalingState !== 'closed'
      && pc.getReceivers().some((r) => tracks.includes(r.track)));
    if (!pc) continue;
    const row = {inWidth: 0, outWidth: 0, channelBytes: 0};
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') row.inWidth = s.frameWidth || 0;
      if (s.type === 'outbound-rtp' && s.kind === 'video') row.outWidth = s.frameWidth || 0;
      if (s.type === 'data-channel') row.channelBytes += s.bytesReceived || 0;
    });
    out[t.dataset.name] = row;
  }
  return out;
}"""


def grey_of(page, selector):
    shot = page.evaluate(GREY, selector)
    return base64.b64decode(shot['data']), shot['width'], shot['height']


def open_page(browser, colour=None):
    context = browser.new_context(viewport={'width': 960, 'height': 640})
    context.add_init_script(RECORD_PEER_CONNECTIONS)
    context.add_init_script(NO_MICROPHONE)
    if colour:
        context.add_init_script(COLOUR_CAMERA % json.dumps(colour))
    page = context.new_page()
    page.set_default_timeout(20000)
    return page


def seat(camera_browser, browser, url):
    """Alice, then the viewers, join; returns name -> Page once every link is live."""
    pages = {'Alice': open_page(camera_browser)}
    pages.update({name: open_page(browser, colour) for name, colour in VIEWERS.items()})
    try:
        invite = create_room(pages['Alice'], url, 'Alice')
        for name in VIEWERS:
            open_invite(pages[name], invite, name)
        for name, page in pages.items():
            wait_live(page, [n for n in pages if n != name], timeout=60000)
    except Exception:
        for page in pages.values():
            page.context.close()
        raise
    return pages


def frames(page):
    return page.evaluate(LINK_FRAMES)


# When a snapshot was last asked for: the sender accepts 3 a second from each viewer.
LAST_REQUEST = {'at': 0.0}


def click_source(page, name, u, v):
    point = page.evaluate(SOURCE_TO_SCREEN, [name, u, v])
    page.mouse.click(point['x'], point['y'])
    LAST_REQUEST['at'] = time.monotonic()


def arm(page, name):
    card = tile(page, name)
    card.hover()
    card.locator('.tool-snapshot').click()
    assert card.get_attribute('class').count('snapshot-armed') == 1


def qr_centre():
    left, top, size = qr_box()
    return (left + size / 2) / WIDTH, (top + size / 2) / HEIGHT


def snapshot_of_card(page, name='Alice'):
    """Click the card on `name`'s tile; wait for the zoom panel; its QR text and ms."""
    page.evaluate("() => { const p = document.querySelector('.snapshot-panel');"
                  " if (p) { delete p.dataset.ms; if (p.open) p.close(); } }")
    click_source(page, name, *qr_centre())
    page.wait_for_function("() => document.querySelector('.snapshot-panel').open"
                           " && document.querySelector('.snapshot-panel').dataset.ms",
                           timeout=10000)
    texts = read_qr(*grey_of(page, '.snapshot-panel canvas'))
    ms = int(page.locator('.snapshot-panel').get_attribute('data-ms'))
    page.keyboard.press('Escape')
    return texts, ms
