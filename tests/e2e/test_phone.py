"""Issue 10, item 6: the call page on a 390x844 phone, upright and on its side.

A touch-screen phone context (is_mobile, has_touch) joins a call with a desktop player.
Every control has an accessible name; no control overlaps another; the call's main
buttons are thumb-sized and at the bottom; the tile tools stay out of the picture until
a tap, then go away by themselves. Screenshots go to /tmp/shots/call-page/ (or $RHYSTIC_SHOTS/call-page/).
"""
import os

import pytest

from e2e.conftest import RECORD_PEER_CONNECTIONS
from e2e.helpers import create_room, join_room, wait_live

pytestmark = pytest.mark.browser

SHOTS = os.path.join(os.environ.get('RHYSTIC_SHOTS', '/tmp/shots'), 'call-page')
PORTRAIT = {'width': 390, 'height': 844}
LANDSCAPE = {'width': 844, 'height': 390}

# Every visible control in the call, with its accessible name (as a screen reader would
# compute it, in the cases this page uses) and its box.
CONTROLS = """() => {
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && Number(s.opacity) > 0
      && !el.closest('[hidden], dialog:not([open])');
  };
  const textOf = (el) => (el.textContent || '').replace(/\\s+/g, ' ').trim();
  const nameOf = (el) => {
    if (el.getAttribute('aria-label')) return el.getAttribute('aria-label').trim();
    const by = el.getAttribute('aria-labelledby');
    if (by) return by.split(' ').map((id) => textOf(document.getElementById(id) || {})).join(' ').trim();
    if (el.labels && el.labels.length) return [...el.labels].map(textOf).join(' ').trim();
    if (el.tagName === 'BUTTON' || el.tagName === 'A') return textOf(el) || el.title || '';
    return el.title || '';
  };
  const area = document.getElementById('call');
  return [...area.querySelectorAll('button, select, input, a[href]')].filter(visible).map((el) => {
    const r = el.getBoundingClientRect();
    return {id: el.id, cls: el.className.baseVal ?? el.className, name: nameOf(el),
            inBar: Boolean(el.closest('.call-bar, .controls')),
            box: {x: r.x, y: r.y, w: r.width, h: r.height}};
  });
}"""


def overlaps(a, b):
    return (a['x'] < b['x'] + b['w'] - 0.5 and b['x'] < a['x'] + a['w'] - 0.5
            and a['y'] < b['y'] + b['h'] - 0.5 and b['y'] < a['y'] + a['h'] - 0.5)


def check_controls(page, viewport):
    controls = page.evaluate(CONTROLS)
    unnamed = [c for c in controls if not c['name']]
    assert not unnamed, unnamed
    bars = [c for c in controls if c['inBar']]
    for i, a in enumerate(bars):
        box = a['box']
        assert box['x'] >= -0.5 and box['x'] + box['w'] <= viewport['width'] + 0.5, a
        assert box['y'] >= -0.5 and box['y'] + box['h'] <= viewport['height'] + 0.5, a
        for b in bars[i + 1:]:
            assert not overlaps(box, b['box']), (a, b)
    # One-handed: the call's buttons are in the bottom quarter and thumb-sized.
    by_id = {c['id']: c for c in controls}
    for key in ('mute-button', 'camera-button', 'fullscreen-button', 'leave-button'):
        box = by_id[key]['box']
        assert box['y'] >= viewport['height'] * 0.75, (key, box)
        assert box['h'] >= 40 and box['w'] >= 40, (key, box)
    return controls


@pytest.fixture
def phone(browser):
    contexts = []

    def open_phone(viewport):
        context = browser.new_context(viewport=viewport, is_mobile=True, has_touch=True,
                                      device_scale_factor=2)
        context.add_init_script(RECORD_PEER_CONNECTIONS)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20000)
        page.console_log = []
        page.on('console', lambda m: page.console_log.append(f'{m.type}: {m.text}'))
        return page

    yield open_phone
    for context in contexts:
        context.close()


TOOLS_SHOWN = """() => { const t = document.querySelector('#grid .tile.remote .tile-tools');
  return getComputedStyle(t).opacity === '1' && getComputedStyle(t).pointerEvents !== 'none'; }"""
TOOLS_HIDDEN = """() => { const t = document.querySelector('#grid .tile.remote .tile-tools');
  return getComputedStyle(t).opacity === '0' && getComputedStyle(t).pointerEvents === 'none'; }"""


def test_phone_controls_are_named_apart_at_the_bottom_and_tile_tools_wait_for_a_tap(
        server, player, phone):
    os.makedirs(SHOTS, exist_ok=True)
    alice = player()
    invite = create_room(alice, server.url, 'Alice')
    bob = phone(PORTRAIT)
    bob.goto(invite)
    join_room(bob, 'Bob')
    wait_live(bob, ['Alice'])
    wait_live(alice, ['Bob'])
    for name, viewport in (('portrait', PORTRAIT), ('landscape', LANDSCAPE)):
        bob.set_viewport_size(viewport)
        bob.wait_for_function(
            "() => { const g = document.getElementById('grid');"
            " return g.dataset.placedFor === `${g.clientWidth}x${g.clientHeight}x2`; }")
        bob.wait_for_function(TOOLS_HIDDEN)
        check_controls(bob, viewport)
        bob.screenshot(path=f'{SHOTS}/phone-2-players-{name}.png')
    bob.set_viewport_size(PORTRAIT)
    # The tools are out of the picture until a tap on the tile, then come and go.
    bob.locator('#grid .tile.remote .tile-media').tap()
    bob.wait_for_function(TOOLS_SHOWN)
    tools = bob.evaluate("""() => [...document.querySelectorAll(
        '#grid .tile.remote .tile-tools .tool')].filter((t) => !t.hidden).map((t) => {
        const r = t.getBoundingClientRect();
        return {name: t.getAttribute('aria-label'), x: r.x, y: r.y, w: r.width, h: r.height}; })""")
    assert tools and all(t['name'] for t in tools), tools
    for i, a in enumerate(tools):
        for b in tools[i + 1:]:
            assert not overlaps(a, b), (a, b)
    bob.screenshot(path=f'{SHOTS}/phone-2-players-portrait-tools.png')
    # A tap on a tool works while they show (here: flip Alice's feed).
    bob.locator('#grid .tile.remote .tool-flip').tap()
    assert bob.get_attribute('#grid .tile.remote', 'data-flip') == '1'
    bob.wait_for_function(TOOLS_HIDDEN, timeout=10000)
    # A tap does not put the tile in the spotlight by accident: only the tool does.
    assert not bob.evaluate("() => document.getElementById('stage').classList.contains('has-spotlight')")
