"""The game table in real browsers (issue 11, acceptance 2 and 5): three players share
life totals, dice, turns, undo and chat; the table survives a reload and a server
restart; and the call page's table controls never overlap, at 2, 4 and 8 players, on a
laptop and on a phone.

Only the first page of each layout test is a browser: the other players are real
Socket.IO clients (tests/clients.py), seated in the room and the game like anyone else,
so eight tiles cost one Chromium.
"""
import os
import re
import signal

import pytest

from clients import PyPeer, api_user
from e2e.helpers import (CONTROL_OVERLAPS, LIFE_HEIGHTS, TABLE_VIEW, UNLABELLED, close_dialogs,
                         create_room, life, open_drawer, open_invite, pod, wait_life)

pytestmark = pytest.mark.browser

SHOTS = os.environ.get('RHYSTIC_SHOTS', '/tmp/shots')
LAPTOP = {'width': 1280, 'height': 800}
PHONE = {'width': 390, 'height': 844}
SIGNALING = "(state) => document.getElementById('room-app').dataset.signaling === state"
ACTIVE_IS = """(name) => {
  const active = [...document.querySelectorAll('#grid .tile.game-active')];
  return active.length === 1 && active[0].dataset.name === name;
}"""


def shot(page, name):
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, f'{name}.png'))


def three_players(player, server):
    hana, alice, bob = player(), player(), player()
    invite = create_room(hana, server.url, 'Hana')
    open_invite(alice, invite, 'Alice')
    open_invite(bob, invite, 'Bob')
    pages = {'Hana': hana, 'Alice': alice, 'Bob': bob}
    for page in pages.values():
        page.wait_for_function(
            "() => document.querySelectorAll('#grid .game-pod:not([hidden])').length === 3")
        for name in pages:
            assert life(page, name) == '40'
    return pages


def feed_item(page, text):
    return page.locator('#feed .feed-game').filter(has_text=text).last


def test_three_players_share_life_dice_turns_undo_and_chat(start_server, player):
    server = start_server()
    pages = three_players(player, server)
    hana, alice, bob = pages['Hana'], pages['Alice'], pages['Bob']
    everyone = list(pages.values())
    # Only the host has the table's settings.
    assert hana.locator('#table-button').is_visible()
    assert alice.locator('#table-button').is_hidden() and bob.locator('#table-button').is_hidden()

    # A life change by one shows on the other two: three clicks, one merged entry.
    for _ in range(3):
        pod(alice, 'Alice').locator('.pod-minus').click()
    wait_life(everyone, 'Alice', 37)
    # Press and hold counts 5 at a time; everyone ends on the same total.
    pod(hana, 'Hana').locator('.pod-plus').hover()
    hana.mouse.down()
    hana.wait_for_function("() => Number(document.querySelector("
                           "'#grid .tile.self .pod-total').textContent) >= 45")
    hana.mouse.up()
    held = int(life(hana, 'Hana'))
    assert held > 40 and (held - 40) % 5 == 0, held
    wait_life(everyone, 'Hana', held)
    # A keyboard shortcut changes your own life.
    bob.locator('body').press('Minus')
    wait_life(everyone, 'Bob', 39)
    # Nobody else can raise your life (the server would refuse it too).
    assert pod(bob, 'Alice').locator('.pod-plus').is_disabled()
    assert pod(bob, 'Alice').locator('.pod-minus').is_enabled()

    # A dice roll: the same result, from the server, for all three.
    bob.click('#dice-button')
    bob.locator('#dice-dialog [data-roll="2d6"]').click()
    result = re.compile(r'^Bob rolled 2d6: (\d) \+ (\d) = (\d+)$')
    texts = []
    for page in everyone:
        page.wait_for_function(
            "() => /^Bob rolled 2d6/.test(document.getElementById('dice-result').textContent)")
        texts.append(page.locator('#dice-result').text_content())
    assert len(set(texts)) == 1, texts
    match = result.match(texts[0])
    assert match and int(match[1]) + int(match[2]) == int(match[3]), texts[0]
    close_dialogs(bob)

    # Pass the turn: the host makes it Alice's turn, Alice passes, the marker moves.
    hana.click('#table-button')
    hana.locator('#seat-list .seat[data-user]').filter(has_text='Alice') \
        .locator('.seat-active').click()
    for page in everyone:
        page.wait_for_function(ACTIVE_IS, arg='Alice')
    close_dialogs(hana)
    assert pod(alice, 'Alice').locator('.pod-pass').is_visible()
    assert pod(bob, 'Alice').locator('.pod-pass').is_hidden()
    pod(alice, 'Alice').locator('.pod-pass').click()
    for page in everyone:
        page.wait_for_function(ACTIVE_IS, arg='Bob')
        assert pod(page, 'Bob').locator('.chip-turn').inner_text() == 'Turn 2'

    # Undo: Bob records damage to Alice and takes it back; the host undoes Alice's own.
    for _ in range(2):
        pod(bob, 'Alice').locator('.pod-minus').click()
    wait_life(everyone, 'Alice', 35)
    open_drawer(bob)
    feed_item(bob, '37 → 35 (by Bob)').locator('.feed-undo').click()
    wait_life(everyone, 'Alice', 37)
    open_drawer(alice)
    # Alice's last change is her pass; the host may undo any change.
    assert feed_item(alice, 'Alice: life 40 → 37').locator('.feed-undo').is_hidden()
    open_drawer(hana)
    feed_item(hana, 'Alice: life 40 → 37').locator('.feed-undo').click()
    wait_life(everyone, 'Alice', 40)

    # A refused change rolls back, visibly: a 13th counter is one too many.
    bob.locator('body').press('Escape')  # closes the drawer
    bob.locator('#drawer').wait_for(state='hidden')
    bob.locator('body').press('e')
    panel = bob.locator('#player-dialog')
    panel.wait_for(state='visible')
    for i in range(1, 14):
        panel.locator('#counter-name').fill(f'c{i}')
        panel.locator('.counter-add button').click()
        if i < 13:
            panel.locator(f'.stat-row[data-key="counter:c{i}"] .stat-value').wait_for()
    panel.locator('.dialog-error').filter(has_text='at most 12 counters').wait_for()
    bob.locator('#game-toast').filter(has_text='Not counted').wait_for()
    bob.wait_for_function("() => document.querySelectorAll("
                          "'#player-dialog .counter-list .stat-row').length === 12")
    close_dialogs(bob)

    # Chat reaches everyone, and markup in it stays text.
    message = '<script>window.__pwned = 1</script><b>gg</b> https://example.org/x'
    open_drawer(alice)
    alice.fill('#chat-input', message)
    alice.press('#chat-input', 'Enter')
    for page in (hana, bob):
        if page is bob:  # his drawer is closed: the unread count says so
            bob.locator('#drawer-unread').filter(has_text='1').wait_for()
            open_drawer(bob)
        page.locator('#feed .feed-chat').filter(has_text='gg').wait_for()
        chat = page.evaluate(TABLE_VIEW)['chat']
        assert chat == [['Alice', message]], chat
        assert page.locator('#feed script, #feed b, #feed a').count() == 0
        assert page.evaluate('() => window.__pwned') is None

    # The host starts a new game in another format (a confirm step first): 20 life.
    hana.click('#table-button')
    hana.select_option('#format-select', 'standard')
    start = hana.locator('#new-game-form button[type="submit"]')
    start.click()
    assert start.inner_text() == 'Click again to start a new game'
    start.click()
    for name in pages:
        wait_life(everyone, name, 20)
    for page in everyone:
        page.wait_for_function("() => !document.querySelector('#grid .tile.game-active')")


def test_a_reload_and_a_server_restart_keep_the_table_and_its_log(start_server, player):
    server = start_server()
    pages = three_players(player, server)
    hana, alice, bob = pages['Hana'], pages['Alice'], pages['Bob']
    everyone = list(pages.values())
    for _ in range(2):
        pod(alice, 'Alice').locator('.pod-minus').click()
    wait_life(everyone, 'Alice', 38)
    pod(bob, 'Bob').locator('.pod-more').click()
    bob.locator('#player-dialog .stat-row[data-key="poison"] .stat-plus').click()
    close_dialogs(bob)
    bob.click('#dice-button')
    bob.locator('#flip-button').click()
    bob.locator('#dice-result').filter(has_text='flipped').wait_for()
    close_dialogs(bob)
    hana.click('#table-button')
    hana.locator('#seat-list .seat').filter(has_text='Bob').locator('.seat-active').click()
    close_dialogs(hana)
    open_drawer(alice)
    alice.fill('#chat-input', 'back in a sec')
    alice.press('#chat-input', 'Enter')
    for page in everyone:
        page.wait_for_function(ACTIVE_IS, arg='Bob')
        open_drawer(page)
        page.locator('#feed .feed-chat').filter(has_text='back in a sec').wait_for()
        page.locator('#feed .feed-game').filter(has_text='Bob: poison 0 → 1').wait_for()
    before = bob.evaluate(TABLE_VIEW)
    assert ['Bob', '40', ['Turn 1', '☠ 1'], True] in before['tiles'], before
    assert len(before['log']) >= 6 and before['chat'] == [['Alice', 'back in a sec']]

    # A reload: the same table and the same log.
    bob.reload()
    bob.click('#join-button')
    bob.wait_for_selector('#room-app[data-view="call"]')
    bob.wait_for_function(
        "() => document.querySelectorAll('#grid .game-pod:not([hidden])').length === 3")
    open_drawer(bob)
    bob.locator('#feed .feed-chat').first.wait_for()
    assert bob.evaluate(TABLE_VIEW) == before

    # A change the server never confirms rolls back within a moment; once the server
    # answers, the change is everyone's.
    os.killpg(server.proc.pid, signal.SIGSTOP)
    try:
        pod(alice, 'Alice').locator('.pod-minus').click()
        alice.locator('#game-toast').filter(has_text='No answer from the server').wait_for(
            timeout=5000)
        assert life(alice, 'Alice') == '38'
    finally:
        os.killpg(server.proc.pid, signal.SIGCONT)
    wait_life(everyone, 'Alice', 37)
    for page in everyone:
        open_drawer(page)
        page.locator('#feed .feed-game').filter(has_text='Alice: life 38 → 37').wait_for()
    before = hana.evaluate(TABLE_VIEW)

    # A server restart: everyone resumes with the same table, and so does a reload.
    server.stop()
    server.start()
    for page in everyone:
        page.wait_for_function(SIGNALING, arg='connected', timeout=30000)
    for page in (hana, alice):
        page.wait_for_function('(n) => document.querySelectorAll("#feed .feed-game").length === n',
                               arg=len(before['log']))
        assert page.evaluate(TABLE_VIEW) == before
    bob.reload()
    bob.click('#join-button')
    bob.wait_for_selector('#room-app[data-view="call"]')
    bob.wait_for_function(
        "() => document.querySelectorAll('#grid .game-pod:not([hidden])').length === 3")
    open_drawer(bob)
    bob.locator('#feed .feed-chat').first.wait_for()
    assert bob.evaluate(TABLE_VIEW) == before


NAMES = ['Alice', 'Bob', 'Carol', 'Dmitri', 'Esperanza', 'Fjord', 'Gus']


@pytest.mark.parametrize('count,device', [(2, 'laptop'), (4, 'laptop'), (8, 'laptop'),
                                          (4, 'phone'), (8, 'phone')])
def test_the_table_controls_never_overlap(server, player, count, device):
    page = player(viewport=LAPTOP if device == 'laptop' else PHONE)
    invite = create_room(page, server.url, 'Hana')
    room_id = invite.rstrip('/').rsplit('/', 1)[1]
    others = []
    try:
        for name in NAMES[:count - 1]:
            others.append(PyPeer(server.url, room_id, api_user(server.url, name)['token']))
        page.wait_for_function(
            f"() => document.querySelectorAll('#grid .game-pod:not([hidden])').length === {count}")
        # Some of everything a tile can show: the turn, poison, commander damage, a marker.
        alice = others[0].welcome['self']['user_id']
        hana = others[0].welcome['peers'][0]['user_id']
        for action in ({'type': 'poison', 'player': hana, 'delta': 3},
                       {'type': 'commander', 'player': hana, 'source': alice, 'delta': 7},
                       {'type': 'marker', 'marker': 'monarch', 'value': alice}):
            assert others[0].emit('game', action)['ok'], action
        page.locator('#table-button').click()
        page.locator('#seat-list .seat').filter(has_text='Hana').locator('.seat-active').click()
        page.locator('#seat-list .seat').filter(has_text='(active)').wait_for()
        if count in (4, 8):
            shot(page, f'table-{count}-{device}-host')
        assert page.evaluate(CONTROL_OVERLAPS) == []
        close_dialogs(page)
        page.locator('#grid .tile.self .pod-pass').wait_for()
        page.wait_for_function("() => document.querySelector('#grid .tile.self .chip-poison')"
                               "?.textContent === '☠ 3'")

        label = f'table-{count}-{device}'
        shot(page, label)
        assert page.evaluate(CONTROL_OVERLAPS) == []
        assert page.evaluate(UNLABELLED) == []
        heights = page.evaluate(LIFE_HEIGHTS)
        assert len(heights) == count and min(heights.values()) >= 24, heights

        # The panels, each checked the same way.
        pod(page, 'Hana').locator('.pod-more').click()
        page.locator('#player-dialog').wait_for(state='visible')
        if count == 4:
            shot(page, f'{label}-panel')
        assert page.evaluate(CONTROL_OVERLAPS) == []
        close_dialogs(page)
        page.click('#dice-button')
        page.locator('#dice-dialog [data-roll="1d20"]').click()
        page.locator('#dice-result').filter(has_text='rolled 1d20').wait_for()
        if count == 4:
            shot(page, f'{label}-dice')
        assert page.evaluate(CONTROL_OVERLAPS) == []
        assert page.evaluate(UNLABELLED) == []
        close_dialogs(page)
        open_drawer(page)
        page.locator('#feed .feed-game').filter(has_text='rolled 1d20').wait_for()
        if count in (4, 8):
            shot(page, f'{label}-drawer')
        assert page.evaluate(CONTROL_OVERLAPS) == []
        assert page.evaluate(UNLABELLED) == []
    finally:
        for other in others:
            other.close()


OVERLAY_LIFE = """([name, life]) => [...document.querySelectorAll('.overlay-player')].some(
  (p) => p.querySelector('.overlay-name').textContent.startsWith(name)
    && p.querySelector('.overlay-life').textContent === life)"""


def test_the_stream_overlay_follows_the_table_until_the_host_revokes_it(server, player):
    host = player(viewport=LAPTOP)
    invite = create_room(host, server.url, 'Hana')
    room_id = invite.rstrip('/').rsplit('/', 1)[1]
    alice = PyPeer(server.url, room_id, api_user(server.url, 'Alice')['token'])
    try:
        host.wait_for_function(
            "() => document.querySelectorAll('#grid .game-pod:not([hidden])').length === 2")
        host.click('#table-button')
        host.click('#overlay-create')
        link = host.locator('#overlay-link')
        host.wait_for_function("() => document.getElementById('overlay-link').value")
        url = link.input_value()
        assert f'/r/{room_id}/overlay?token=' in url
        close_dialogs(host)

        overlay = player(viewport={'width': 420, 'height': 360})
        overlay.goto(url)
        overlay.wait_for_function(OVERLAY_LIFE, arg=['Alice', '40'])
        uid = alice.welcome['self']['user_id']
        assert alice.emit('game', {'type': 'life', 'player': uid, 'delta': -5})['ok']
        pod(host, 'Hana').locator('.pod-minus').click()
        overlay.wait_for_function(OVERLAY_LIFE, arg=['Alice', '35'])
        overlay.wait_for_function(OVERLAY_LIFE, arg=['Hana', '39'])
        host.click('#table-button')
        host.locator('#seat-list .seat').filter(has_text='Alice').locator('.seat-active').click()
        overlay.locator('.overlay-player.active').filter(has_text='Alice').wait_for()
        os.makedirs(SHOTS, exist_ok=True)
        overlay.screenshot(path=os.path.join(SHOTS, 'overlay.png'), omit_background=True)
        assert overlay.evaluate(
            "() => getComputedStyle(document.body).backgroundColor") == 'rgba(0, 0, 0, 0)'

        host.click('#overlay-revoke')
        host.locator('#overlay-revoke').wait_for(state='hidden')
        overlay.locator('#overlay-note').filter(has_text='not valid').wait_for()
        assert overlay.locator('.overlay-player').count() == 0
    finally:
        alice.close()
