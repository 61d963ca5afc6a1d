"""Acceptance 1 and 2: two players through the UI, and the right video in the right tile."""
import pytest

from e2e.helpers import (MEAN_COLOUR, SELECTED_PAIRS, Stopwatch, create_room, open_invite,
                         record_timing, tile, wait_live)

pytestmark = pytest.mark.browser


def test_two_players_join_through_the_ui_and_see_each_other_directly(server, player, artifacts):
    alice, bob = player(), player()
    invite = create_room(alice, server.url, 'Alice')
    assert '/r/' in invite

    clock = Stopwatch()
    open_invite(bob, invite, 'Bob')
    wait_live(alice, ['Bob'])
    wait_live(bob, ['Alice'])
    record_timing(artifacts, 'two_players_join_to_live_s', clock.elapsed())

    for page in (alice, bob):
        pairs = page.evaluate(SELECTED_PAIRS)
        assert pairs and all('relay' not in (p['local'], p['remote']) for p in pairs), pairs
    assert tile(alice, 'Bob').get_attribute('data-state') == 'direct'
    alice.wait_for_function(
        "() => /fps/.test(document.querySelector('#grid .tile.remote .tile-quality').textContent)")
    # The invite link is the room page; the room is in Alice's recent rooms.
    alice.goto(server.url + '/')
    assert invite.rsplit('/', 1)[1] in alice.locator('.recent-list').inner_text()


COLOURS = {'Red': 'rgb(220, 40, 40)', 'Green': 'rgb(40, 190, 60)', 'Blue': 'rgb(40, 80, 230)'}


def _close(actual, expected, tolerance=45):
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected))


def test_each_colour_arrives_in_the_tile_with_that_players_name(server, player):
    pages = {name: player(colour=colour) for name, colour in COLOURS.items()}
    names = list(COLOURS)
    invite = create_room(pages[names[0]], server.url, names[0])
    for name in names[1:]:
        open_invite(pages[name], invite, name)
    for name, page in pages.items():
        others = [n for n in names if n != name]
        wait_live(page, others)
        for other in others:
            expected = [int(v) for v in COLOURS[other][4:-1].split(',')]
            page.wait_for_function(
                f'(n) => {{ const c = ({MEAN_COLOUR})(n); const e = {expected};'
                ' return c && c.every((v, i) => Math.abs(v - e[i]) <= 45); }', arg=other)
            assert _close(page.evaluate(MEAN_COLOUR, other), expected)
