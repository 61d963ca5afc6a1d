"""Chess clocks on the call page: the host sets them in the Table dialog, the active
player's clock counts down on every tile's life pod (from the server's `clock.since`),
a pause stops it, and passing the turn starts the next player's clock and gives the
previous one the increment.

One Chromium (the host); the other two players are real Socket.IO clients
(tests/clients.py), as in test_game_table.py's layout tests. Every wait is a condition
on what the page shows or on the server's state, with room to spare on a loaded box.
"""
import math
import os
import re

import pytest

from clients import PyPeer, api_user
from e2e.helpers import CONTROL_OVERLAPS, UNLABELLED, close_dialogs, create_room
from servers import wait_until

pytestmark = pytest.mark.browser

LAPTOP = {'width': 1280, 'height': 800}
WAIT_MS = 30000  # generous: two shared cores, a gunicorn server and Chromium

CHIP = "(name) => document.querySelector(`#grid .tile[data-name=\"${name}\"] .chip-clock`)"
# The clock a tile shows, as seconds (null while hidden, or "Time").
SHOWN_SECONDS = f"""(name) => {{
  const chip = ({CHIP})(name);
  const m = chip && !chip.hidden && /^(\\d+):(\\d\\d)$/.exec(chip.textContent);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}}"""
BELOW = f"""([name, limit]) => {{
  const s = ({SHOWN_SECONDS})(name);
  return s !== null && s < limit;
}}"""
SHOWS = f"""([name, text, state]) => {{
  const chip = ({CHIP})(name);
  return Boolean(chip) && !chip.hidden && chip.textContent === text
    && chip.dataset.state === state;
}}"""
# Polls the paused clock for `ms` of page time: any change ends the wait at once.
STAYS = f"""([name, text, ms]) => {{
  const chip = ({CHIP})(name);
  if (chip.textContent !== text) return `moved to ${{chip.textContent}}`;
  window.__clockWatch ??= performance.now();
  return performance.now() - window.__clockWatch >= ms ? 'stayed' : false;
}}"""
# The clock is labelled in words and sits in no live region (no per-second read-out).
CHIP_A11Y = f"""(name) => {{
  const chip = ({CHIP})(name);
  return {{label: chip.getAttribute('aria-label'), role: chip.getAttribute('role'),
          live: Boolean(chip.closest(
            '[aria-live]:not([aria-live="off"]), [role="status"], [role="log"], [role="alert"]'))}};
}}"""
CLOCK_VIEWS = """async (cases) => {
  const { clockView } = await import('/static/js/game-clock.js');
  return cases.map((s) => { const v = clockView(s); return [v.text, v.low, v.out]; });
}"""


def shown(seconds):
    """What a clock with `seconds` left shows: whole seconds rounded up, mm:ss."""
    whole = math.ceil(seconds - 1e-6)
    return 'Time' if whole <= 0 else f'{whole // 60:02d}:{whole % 60:02d}'


def table(peer):
    return peer.emit('game-sync', {})['state']


def test_clocks_count_down_for_the_active_player_pause_and_pass_with_increment(server, player):
    page = player(viewport=LAPTOP)
    invite = create_room(page, server.url, 'Hana')
    room_id = invite.rstrip('/').rsplit('/', 1)[1]
    alice = PyPeer(server.url, room_id, api_user(server.url, 'Alice')['token'])
    bob = PyPeer(server.url, room_id, api_user(server.url, 'Bob')['token'])
    try:
        page.wait_for_function(
            "() => document.querySelectorAll('#grid .game-pod:not([hidden])').length === 3",
            timeout=WAIT_MS)
        a_id, b_id = alice.welcome['self']['user_id'], bob.welcome['self']['user_id']
        for name in ('Hana', 'Alice', 'Bob'):
            assert page.locator(f'#grid .tile[data-name="{name}"] .chip-clock').is_hidden()

        # The host turns clocks on: 5 minutes + 2 seconds a turn. Nobody's runs yet.
        page.click('#table-button')
        page.locator('#clock-status').filter(has_text='no clocks').wait_for()
        page.check('#clock-on')
        page.fill('#clock-minutes', '5')
        page.fill('#clock-increment', '2')
        page.click('#clock-form button[type="submit"]')
        for name in ('Hana', 'Alice', 'Bob'):
            page.wait_for_function(SHOWS, arg=[name, '05:00', 'stopped'], timeout=WAIT_MS)
        page.locator('#clock-status').filter(has_text='5 min + 2 s').wait_for()
        assert page.evaluate(CONTROL_OVERLAPS) == [] and page.evaluate(UNLABELLED) == []
        assert table(alice)['clock'] == {'total': 300, 'increment': 2, 'since': None}

        # The game starts with Alice: her clock counts down, the others' stand still.
        page.locator('#seat-list .seat').filter(has_text='Alice').locator('.seat-active').click()
        page.wait_for_function(BELOW, arg=['Alice', 300], timeout=WAIT_MS)
        assert page.evaluate(f'() => ({CHIP})("Alice").dataset.state') == 'running'
        for name in ('Hana', 'Bob'):
            page.wait_for_function(SHOWS, arg=[name, '05:00', 'stopped'], timeout=WAIT_MS)
        a11y = page.evaluate(CHIP_A11Y, 'Alice')
        assert a11y['role'] == 'img' and not a11y['live'], a11y
        assert re.fullmatch(r"Alice's clock: 4 minutes( \d+ seconds?)? left, running",
                            a11y['label']), a11y

        # A pause the server confirms stops her clock at the time the server charged.
        page.click('#pause-button')
        wait_until(lambda: table(alice)['paused'], WAIT_MS / 1000, message='paused')
        paused = table(alice)
        left = paused['players'][a_id]['clock']
        assert paused['clock']['since'] is None and 0 < left < 300, paused
        page.wait_for_function(SHOWS, arg=['Alice', shown(left), 'paused'], timeout=WAIT_MS)
        page.locator('#pause-button').filter(has_text='Resume game').wait_for()
        stayed = page.wait_for_function(STAYS, arg=['Alice', shown(left), 1500],
                                        timeout=WAIT_MS, polling=100).json_value()
        assert stayed == 'stayed', stayed
        still = table(alice)
        assert still['version'] == paused['version'] and still['paused'], still
        assert still['players'][a_id]['clock'] == left

        # Resumed, her clock runs on from there.
        page.click('#pause-button')
        page.locator('#pause-button').filter(has_text='Pause game').wait_for()
        page.wait_for_function(BELOW, arg=['Alice', math.ceil(left - 1e-6)], timeout=WAIT_MS)
        close_dialogs(page)
        assert page.evaluate(CONTROL_OVERLAPS) == [] and page.evaluate(UNLABELLED) == []
        if os.environ.get('RHYSTIC_SHOTS'):
            page.screenshot(path=os.path.join(os.environ['RHYSTIC_SHOTS'], 'clocks.png'))

        # Alice passes: Bob's clock runs; Alice's stops at her time plus the increment.
        before = table(alice)
        assert not before['paused'] and before['active'] == a_id, before
        ack = alice.emit('game', {'type': 'pass-turn', 'turn': before['turn']})
        assert ack['ok'], ack
        after = table(alice)
        assert after['active'] == b_id and after['clock']['since'] is not None, after
        spent = after['clock']['since'] - before['clock']['since']
        kept = after['players'][a_id]['clock']
        assert abs(kept - (before['players'][a_id]['clock'] - spent + 2)) < 0.01, (before, after)
        page.wait_for_function(SHOWS, arg=['Alice', shown(kept), 'stopped'], timeout=WAIT_MS)
        page.wait_for_function(BELOW, arg=['Bob', 300], timeout=WAIT_MS)
        assert page.evaluate(f'() => ({CHIP})("Bob").dataset.state') == 'running'
        assert page.evaluate(SHOWN_SECONDS, 'Alice') == math.ceil(kept - 1e-6)

        # What a clock shows near the end: the warning under a minute, then "Time".
        assert page.evaluate(CLOCK_VIEWS, [3725, 60, 59.2, 59, 0.4, 0, -3]) == [
            ['1:02:05', False, False], ['01:00', False, False], ['01:00', False, False],
            ['00:59', True, False], ['00:01', True, False], ['Time', True, True],
            ['Time', True, True]]
    finally:
        alice.close()
        bob.close()
