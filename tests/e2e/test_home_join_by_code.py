"""Issue 10, items 3 and 4 on the home page: a mistyped code asks before it creates a
room, and the creator chooses the seat count (2 to 8, four by default)."""
import pytest

pytestmark = pytest.mark.browser


def test_an_unknown_code_asks_before_creating_and_the_answer_is_kept(server, player):
    page = player()
    page.goto(server.url + '/')
    assert page.locator('#seat-count').input_value() == '4'
    page.fill('#display-name', 'Mia')
    page.fill('#room-code', '8cc-2ema-gnx')
    page.click('#join-room')
    # A question, not an empty room: no room page, nothing in the recent rooms.
    page.wait_for_selector('#confirm-create')
    assert 'No room has this code.' in page.inner_text('h1')
    assert 'Create a new room with it?' in page.inner_text('#confirm-create')
    assert page.inner_text('#unknown-code') == '8cc-2ema-gnx'
    assert page.evaluate('() => fetch("/api/rooms/8cc-2ema-gnx").then((r) => r.status)') == 404

    # "No, check the code" goes back with the code in the box, to correct it.
    page.click('#confirm-back')
    page.wait_for_selector('#room-code')
    assert page.locator('#room-code').input_value() == '8cc-2ema-gnx'
    assert page.locator('.recent-list').count() == 0

    # Asked again, and this time created on purpose, with three seats.
    page.fill('#display-name', 'Mia')
    page.click('#join-room')
    page.select_option('#confirm-seats', '3')
    page.click('#confirm-create-button')
    page.wait_for_url('**/r/8cc-2ema-gnx')
    assert page.inner_text('#seats').strip() == '3 of 3 seats free'
    assert 'Nobody is at the table yet.' in page.inner_text('#seated')


def test_the_creator_chooses_the_seats_and_a_known_code_goes_straight_in(server, player):
    alice, bob = player(), player()
    alice.goto(server.url + '/')
    alice.fill('#display-name', 'Alice')
    alice.select_option('#seat-count', '2')
    alice.click('#create-room')
    alice.wait_for_url('**/r/**')
    assert alice.inner_text('#seats').strip() == '2 of 2 seats free'
    code = alice.url.rsplit('/r/', 1)[1]

    bob.goto(server.url + '/')
    bob.fill('#display-name', 'Bob')
    bob.fill('#room-code', code.upper())
    bob.click('#join-room')
    bob.wait_for_url(f'**/r/{code}')
