"""static/js/bandwidth.js (the upload budget per link), and the pure parts of
snapshot.js and peerlink.js (request checks, regions, view hints), run in Node: the
same modules the browser loads, no browser needed."""
import json
import os
import subprocess

from clients import NODE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JS = os.path.join(ROOT, 'static', 'js')
SOURCE = {'width': 1920, 'height': 1080, 'fps': 30}


def run(expression):
    """The JSON value of a JavaScript expression, with the modules imported."""
    script = (f"import * as bw from '{JS}/bandwidth.js';\n"
              f"import * as snap from '{JS}/snapshot.js';\n"
              f"import * as link from '{JS}/peerlink.js';\n"
              f'console.log(JSON.stringify({expression}));\n')
    out = subprocess.run([NODE, '--input-type=module', '-e', script], capture_output=True,
                         text=True, timeout=30, check=True)
    return json.loads(out.stdout)


def view(width, height, **flags):
    return {'width': width, 'height': height, 'spotlight': False, 'fullscreen': False,
            'zoom': 1, **flags}


def allocate(views, source=SOURCE):
    return run(f'bw.allocate({json.dumps(views)}, {json.dumps(source)})')


def rows(caps, source=SOURCE):
    return [round(source['height'] / c['scaleResolutionDownBy']) for c in caps]


def test_each_link_carries_what_its_viewer_shows():
    caps = allocate([view(384, 216), view(200, 113), view(640, 360)])
    assert rows(caps) == [216, 113, 360]
    assert [c['maxBitrate'] for c in caps] == [500000, 300000, 800000]


def test_a_spotlighted_link_gets_the_full_capture_and_the_others_stay():
    caps = allocate([view(384, 216, spotlight=True), view(384, 216), view(384, 216)])
    assert rows(caps) == [1080, 216, 216]
    assert [c['maxBitrate'] for c in caps] == [4500000, 500000, 500000]
    assert caps[0]['maxFramerate'] == 30
    # Full screen and zoom count as looking closely too.
    assert rows(allocate([view(384, 216, fullscreen=True)])) == [1080]
    assert rows(allocate([view(384, 216, zoom=2)])) == [1080]


def test_many_lookers_share_the_budget_and_never_exceed_it():
    caps = allocate([view(384, 216, spotlight=True)] * 7)
    assert sum(c['maxBitrate'] for c in caps) <= 8000 * 1000
    assert rows(caps) == [360] * 7  # the budget's ceiling: 7 x 800 kbit/s
    caps = allocate([view(384, 216, spotlight=True)] * 2 + [view(384, 216)] * 5)
    assert sum(c['maxBitrate'] for c in caps) <= 8000 * 1000
    assert rows(caps)[:2] == [720, 720] and rows(caps)[2:] == [216] * 5


def test_a_viewer_that_says_nothing_gets_the_tier():
    caps = allocate([None, None, None])
    assert rows(caps) == [540] * 3 and [c['maxBitrate'] for c in caps] == [1300000] * 3
    # A small source is never scaled up.
    assert rows(allocate([view(1920, 1080, spotlight=True)],
                         {'width': 160, 'height': 120, 'fps': 10}),
                {'height': 120}) == [120]


def test_snapshot_requests_are_checked():
    good = {'x': 0.5, 'y': 0.2, 'w': 0.2, 'h': 0.3}
    assert run(f"snap.parseRequest({{id: 'a-1', region: {json.dumps(good)}}})") == {
        'id': 'a-1', 'region': good}
    bad = [{'id': 'a', 'region': {**good, 'x': 0.9}}, {'id': 'a', 'region': None},
           {'id': 'a', 'region': {**good, 'w': 0}}, {'id': 'a', 'region': 'x'},
           {'id': 'a/b', 'region': good}, {'id': 'x' * 65, 'region': good}, {'region': good}]
    answers = run(f'{json.dumps(bad)}.map((m) => snap.parseRequest(m))')
    assert [a['error'] for a in answers] == [
        {'id': 'a', 'code': 'bad-request'}] * 4 + [{'id': None, 'code': 'bad-request'}] * 3


def test_regions_stay_inside_the_frame():
    region = run('snap.clickRegion({x: 0.99, y: 0.01}, 16 / 9)')
    assert region['x'] + region['w'] <= 1 and region['y'] == 0
    assert abs(region['w'] * 1920 - region['h'] * 1080) < 1  # square in source pixels
    assert run('snap.regionToPixels({x: 0.5, y: 0.5, w: 0.6, h: 0.6}, 1920, 1080)') == {
        'x': 960, 'y': 540, 'w': 960, 'h': 540}


def test_view_hints_are_made_harmless():
    assert run("link.readView({width: -5, height: 1e9, spotlight: 'yes', zoom: 99})") == {
        'width': 0, 'height': 16384, 'spotlight': False, 'fullscreen': False, 'zoom': 16,
        'face_big': False}
