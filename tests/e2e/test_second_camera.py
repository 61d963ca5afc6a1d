"""Issue 12, part 3: a second camera per seat. Alice adds a second (synthetic, green)
camera; Bob receives it as a second video track on the same link, shown as an inset,
can swap which is big (and Alice then sends it larger), and after either of them
reconnects the roles are the same: the green camera is still the inset (or the big
one, as Bob chose)."""
import os

import pytest

from e2e.helpers import create_room, join_room, open_invite, tile, wait_live
from servers import wait_until

pytestmark = pytest.mark.browser

GREEN = (34, 136, 68)  # the synthetic camera's background (tests/e2e/conftest.py)

# The mean colour of a video in a tile: '.tile-face' (the second camera) or the main one.
MEAN = """([name, selector]) => {
  const video = document.querySelector(`#grid .tile.remote[data-name="${name}"] ${selector}`);
  if (!video || !video.videoWidth) return null;
  const canvas = document.createElement('canvas');
  canvas.width = 32; canvas.height = 24;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(video, 0, 0, 32, 24);
  const data = ctx.getImageData(0, 0, 32, 24).data;
  const sum = [0, 0, 0];
  for (let i = 0; i < data.length; i += 4) for (let c = 0; c < 3; c++) sum[c] += data[i + c];
  return sum.map((v) => Math.round(v / (data.length / 4)));
}"""

# Bob's link to Alice: the video tracks it receives (live ones).
VIDEO_TRACKS = """(name) => {
  const video = document.querySelector(`#grid .tile.remote[data-name="${name}"] video`);
  const tracks = video.srcObject.getTracks();
  const pc = window.__pcs.find((pc) => pc.signalingState !== 'closed'
    && pc.getReceivers().some((r) => tracks.includes(r.track)));
  return pc.getTransceivers().filter((t) => t.mid !== null && t.receiver.track.kind === 'video'
    && /recv/.test(t.currentDirection || '') && t.receiver.track.readyState === 'live').length;
}"""

# Alice's cap on the second camera she sends (the sender whose track is not the table's).
FACE_CAPS = """() => {
  const table = document.querySelector('#grid .tile.self video').srcObject.getVideoTracks()[0];
  return window.__pcs.filter((pc) => pc.signalingState !== 'closed').flatMap((pc) =>
    pc.getSenders().filter((s) => s.track && s.track.kind === 'video' && s.track !== table)
      .map((s) => (s.getParameters().encodings || [])[0]?.maxBitrate ?? null));
}"""


def near(colour, target, tolerance=40):
    return colour is not None and all(abs(a - b) <= tolerance for a, b in zip(colour, target))


def wait_face(page, name='Alice'):
    """The second camera is live in the tile's inset, and the main video is not it."""
    state = {}

    def shown():
        state['face'] = page.evaluate(MEAN, [name, 'video.tile-face'])
        state['main'] = page.evaluate(MEAN, [name, 'video:not(.tile-face)'])
        return near(state['face'], GREEN) and state['main'] and not near(state['main'], GREEN)
    wait_until(shown, 30, interval=0.5, message=f'the second camera as the inset: {state}')


def test_a_second_camera_is_a_second_track_whose_role_survives_reconnects(server, player,
                                                                         artifacts):
    alice = player(second_camera=True, microphone=False)
    bob = player(microphone=False)
    invite = create_room(alice, server.url, 'Alice')
    open_invite(bob, invite, 'Bob')
    wait_live(alice, ['Bob'])
    wait_live(bob, ['Alice'])

    alice.select_option('#second-camera-select', 'synthetic-camera')
    wait_face(bob)
    assert bob.evaluate(VIDEO_TRACKS, 'Alice') == 2
    wait_until(lambda: alice.evaluate(FACE_CAPS) == [300000], 15, interval=0.5,
               message='the second camera sent small')

    # Bob makes the second camera the big one: it fills the tile, and Alice sends it larger.
    tile(bob, 'Alice').locator('.tool-swap').dispatch_event('click')
    sizes = bob.evaluate("""() => {
      const t = document.querySelector('#grid .tile.remote[data-name="Alice"]');
      const area = (v) => { const r = v.getBoundingClientRect(); return r.width * r.height; };
      return [area(t.querySelector('video.tile-face')),
              area(t.querySelector('video:not(.tile-face)'))];
    }""")
    assert sizes[0] > 4 * sizes[1], sizes
    bob.screenshot(path=os.path.join(artifacts, 'second-camera-swapped.png'))
    wait_until(lambda: alice.evaluate(FACE_CAPS) == [800000], 15, interval=0.5,
               message='the second camera sent large once Bob enlarged it')

    # Bob reconnects (a new peer connection): the roles and his choice are as they were.
    bob.reload()
    join_room(bob)
    wait_live(bob, ['Alice'])
    wait_face(bob)
    assert 'face-big' in tile(bob, 'Alice').get_attribute('class')

    # Alice reconnects: her second camera comes back by itself, in the same role.
    alice.reload()
    join_room(alice)
    wait_live(bob, ['Alice'])
    wait_face(bob)
    assert bob.evaluate(VIDEO_TRACKS, 'Alice') == 2
