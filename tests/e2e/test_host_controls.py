"""A room the host controls, in real browsers (docs/protocol.md §7a): the host locks the
room and a newcomer is refused; with knocking on, the newcomer waits at the door and
the host turns them away, sees them give up, then admits them; and the host hands the
role to another player, whose page gets the controls while the badge moves for all."""
import pytest

from e2e.helpers import create_room, open_invite, tile

pytest.importorskip('playwright')
from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser

SHOWN = "(sel) => [...document.querySelectorAll(sel)].filter((el) => !el.hidden).length"
JOIN_ERROR = "(text) => document.getElementById('join-error').textContent.includes(text)"


def host_badge(page, name=None):
    """The host badge on a player's tile (`None`: the page's own tile)."""
    where = tile(page, name) if name else page.locator('#grid .tile.self')
    return where.locator('.badge-host')


def knock_prompt(page, name):
    return page.locator('#knocks .knock-prompt', has_text=f'{name} wants to join')


def open_host_dialog(page):
    page.click('#host-button')
    expect(page.locator('#host-dialog')).to_be_visible()


def click_join(page, name=None):
    if name is not None:
        page.fill('#name-input', name)
    page.click('#join-button')


def test_the_host_locks_the_room_then_admits_a_knock(server, player):
    alice, bo, cy = player(), player(), player()
    invite = create_room(alice, server.url, 'Alice')
    open_invite(bo, invite, 'Bo')
    tile(alice, 'Bo').wait_for()
    tile(bo, 'Alice').wait_for()

    # The host has the controls; everyone sees who hosts.
    expect(alice.locator('#host-button')).to_be_visible()
    expect(bo.locator('#host-button')).to_be_hidden()
    expect(host_badge(alice)).to_be_visible()
    expect(host_badge(bo, 'Alice')).to_be_visible()
    expect(host_badge(bo)).to_be_hidden()

    # Lock, from the keyboard: the switch is a checkbox with role switch.
    open_host_dialog(alice)
    lock = alice.get_by_role('switch', name='Lock the room')
    lock.focus()
    alice.keyboard.press('Space')
    expect(alice.locator('#host-button')).to_have_attribute('data-locked', 'true')
    expect(bo.locator('#room-lock')).to_have_text('Locked')  # room-updated reached Bo

    # A newcomer is refused, and told why.
    cy.goto(invite)
    click_join(cy, 'Cy')
    cy.wait_for_function(JOIN_ERROR, arg='This room is locked by its host')
    assert cy.get_attribute('#room-app', 'data-view') == 'lobby'
    expect(cy.locator('#door')).to_be_hidden()
    expect(cy.locator('#join-button')).to_be_enabled()

    # Knocking on.
    knock = alice.get_by_role('switch', name='Let newcomers knock')
    knock.check()
    # Escape at once, while the switch may still wait for the server's ack: it stays
    # focusable (busy, not disabled), so the key still reaches the dialog.
    alice.keyboard.press('Escape')
    expect(alice.locator('#host-dialog')).to_be_hidden()
    expect(bo.locator('#room-lock')).to_have_text('Locked · knock to join')
    # The dialog is closed, so by id: the switch settled on the server's word.
    expect(alice.locator('#knock-switch')).not_to_have_attribute('aria-busy', 'true')
    assert alice.locator('#knock-switch').is_checked()

    # Cy knocks and waits; only the host is asked. Turned away, Cy is told so.
    click_join(cy)
    cy.wait_for_selector('#room-app[data-door="waiting"]')
    expect(cy.locator('#door-title')).to_have_text('Waiting for the host to let you in…')
    expect(cy.locator('#join-form')).to_be_hidden()
    expect(knock_prompt(alice, 'Cy')).to_be_visible()
    assert bo.locator('#knocks .knock-prompt').count() == 0
    knock_prompt(alice, 'Cy').get_by_role('button', name='Turn Cy away').click()
    cy.wait_for_function(JOIN_ERROR, arg="The host didn't let you in")
    expect(cy.locator('#door')).to_be_hidden()
    expect(knock_prompt(alice, 'Cy')).to_have_count(0)
    assert tile(alice, 'Cy').count() == 0

    # Cy knocks again and gives up: the host's prompt goes with them.
    click_join(cy)
    cy.wait_for_selector('#room-app[data-door="waiting"]')
    expect(knock_prompt(alice, 'Cy')).to_be_visible()
    cy.click('#door-cancel')
    expect(knock_prompt(alice, 'Cy')).to_have_count(0)
    expect(cy.locator('#join-form')).to_be_visible()

    # A third knock, and the host's click lets Cy in: tiles on every side.
    click_join(cy)
    cy.wait_for_selector('#room-app[data-door="waiting"]')
    knock_prompt(alice, 'Cy').get_by_role('button', name='Admit Cy').click()
    cy.wait_for_selector('#room-app[data-view="call"]')
    tile(alice, 'Cy').wait_for()
    tile(bo, 'Cy').wait_for()
    tile(cy, 'Alice').wait_for()
    tile(cy, 'Bo').wait_for()
    expect(knock_prompt(alice, 'Cy')).to_have_count(0)
    # The room is still locked, and Cy sees so and who hosts.
    expect(cy.locator('#room-lock')).to_have_text('Locked · knock to join')
    expect(host_badge(cy, 'Alice')).to_be_visible()
    expect(cy.locator('#host-button')).to_be_hidden()


def test_the_host_hands_the_role_to_another_player(server, player):
    alice, bo, cy = player(), player(), player()
    invite = create_room(alice, server.url, 'Alice')
    open_invite(bo, invite, 'Bo')
    open_invite(cy, invite, 'Cy')
    for page, others in ((alice, ('Bo', 'Cy')), (bo, ('Alice', 'Cy')), (cy, ('Alice', 'Bo'))):
        for name in others:
            tile(page, name).wait_for()

    # Only the host may hand the role on, from the others' tiles.
    assert alice.evaluate(SHOWN, '#grid .tool-make-host') == 2
    assert alice.locator('#grid .tile.self .tool-make-host').is_hidden()
    assert bo.evaluate(SHOWN, '#grid .tool-make-host') == 0

    # A confirm step: cancelling keeps the role.
    bo_tile = tile(alice, 'Bo')
    bo_tile.hover()
    bo_tile.get_by_role('button', name='Make Bo the host').click()
    confirm = bo_tile.locator('.host-confirm')
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text('Make Bo the host?')
    confirm.get_by_role('button', name='Cancel').click()
    expect(confirm).to_be_hidden()
    expect(host_badge(bo, 'Alice')).to_be_visible()

    bo_tile.hover()
    bo_tile.get_by_role('button', name='Make Bo the host').click()
    confirm.get_by_role('button', name='Make host').click()

    # The badge moves for everyone...
    expect(host_badge(alice, 'Bo')).to_be_visible()
    expect(host_badge(cy, 'Bo')).to_be_visible()
    expect(host_badge(bo)).to_be_visible()
    for page in (bo, cy):
        expect(host_badge(page, 'Alice')).to_be_hidden()
    expect(host_badge(alice)).to_be_hidden()

    # ...and so do the controls: the lock, Make host, Remove from room and the Table.
    expect(bo.locator('#host-button')).to_be_visible()
    expect(alice.locator('#host-button')).to_be_hidden()
    expect(alice.locator('#grid .tool-make-host:not([hidden])')).to_have_count(0)
    expect(alice.locator('#grid .tool-kick:not([hidden])')).to_have_count(0)
    expect(bo.locator('#grid .tool-make-host:not([hidden])')).to_have_count(2)
    expect(bo.locator('#grid .tool-kick:not([hidden])')).to_have_count(2)
    expect(bo.locator('#table-button')).to_be_visible()  # the game table's settings too
    expect(alice.locator('#table-button')).to_be_hidden()

    # The new host's controls work (the server agrees): Bo locks, the others see it.
    open_host_dialog(bo)
    bo.get_by_role('switch', name='Lock the room').check()
    expect(alice.locator('#room-lock')).to_have_text('Locked')
    expect(cy.locator('#room-lock')).to_have_text('Locked')
    expect(bo.locator('#host-button')).to_have_attribute('data-locked', 'true')
