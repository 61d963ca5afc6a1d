"""Signing in with OpenID Connect, end to end (issue 14): real Chromium, a real gunicorn
Rhystic, and a real OpenID Connect provider (oidc-provider from npm, tests/oidc/), driven
through its own login and consent pages.

Two issuers run in one provider process: "Test" and "Other" to Rhystic. A third provider,
"Down", points at a port nobody listens on. PKCE is required by the provider, so every
sign-in that works proves the S256 challenge was sent and verified.
"""
import base64
import re
from urllib.parse import quote, urljoin

import pytest
import requests

from e2e.conftest import server_env
from e2e.helpers import join_room, tile
from oidc import CLIENT_ID, CLIENT_SECRET, OidcProvider
from servers import Server, free_port, migrate, wait_until

pytest.importorskip('playwright')
from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope='module')
def site(tmp_path_factory, coturn):
    """(Rhystic server, provider): started once for this module."""
    port = free_port()
    base = f'http://127.0.0.1:{port}'
    provider = OidcProvider([f'{base}/auth/test/callback', f'{base}/auth/other/callback'],
                            count=2).start()
    test_issuer, other_issuer = provider.issuers
    tmp_dir = tmp_path_factory.mktemp('oidc')
    env = server_env(tmp_dir, coturn.port, **{
        'RHYSTIC_OAUTH_TEST_ISSUER': test_issuer, 'RHYSTIC_OAUTH_TEST_LABEL': 'Test',
        'RHYSTIC_OAUTH_TEST_CLIENT_ID': CLIENT_ID,
        'RHYSTIC_OAUTH_TEST_CLIENT_SECRET': CLIENT_SECRET,
        'RHYSTIC_OAUTH_OTHER_ISSUER': other_issuer, 'RHYSTIC_OAUTH_OTHER_LABEL': 'Other',
        'RHYSTIC_OAUTH_OTHER_CLIENT_ID': CLIENT_ID,
        'RHYSTIC_OAUTH_OTHER_CLIENT_SECRET': CLIENT_SECRET,
        'RHYSTIC_OAUTH_DOWN_ISSUER': f'http://127.0.0.1:{free_port()}',
        'RHYSTIC_OAUTH_DOWN_CLIENT_ID': 'down', 'RHYSTIC_OAUTH_DOWN_CLIENT_SECRET': 'down',
        'RHYSTIC_RATELIMIT_SIGN_IN': '1000 per minute',
    })
    migrate(env)
    server = Server(env, port=port, log_path=str(tmp_dir / 'server.log')).start()
    yield server, provider
    server.stop()
    provider.stop()
    assert 'Traceback' not in server.log(), server.log()[-4000:]


def click_sign_in(page, label):
    page.get_by_role('button', name=f'Sign in with {label}').click()


def provider_login(page, login):
    """The provider's own login page: any password signs in as `login`."""
    try:
        page.wait_for_selector('input[name=login]')
    except Exception as exc:
        raise AssertionError(f'no login page at {page.url}: '
                             f'{page.inner_text("body")[:1500]}') from exc
    page.fill('input[name=login]', login)
    page.fill('input[name=password]', 'any password')
    page.click('button[type=submit]')
    page.wait_for_selector('text=Authorize')


def consent(page):
    page.click('button:has-text("Continue")')


def me(page, base):
    """/api/me with the page's cookies: the user's JSON, or None when signed out."""
    response = page.request.get(base + '/api/me')
    return response.json() if response.ok else None


def session_cookie(context):
    return next(c['value'] for c in context.cookies() if c['name'] == 'session')


def test_a_guest_signs_in_keeps_everything_and_another_browser_reaches_the_account(
        site, browser):
    server, _provider = site
    guest = browser.new_context()
    page = guest.new_page()
    page.set_default_timeout(20000)

    # A guest makes a room; it is on their recent list.
    page.goto(server.url + '/')
    page.fill('#display-name', 'Guesty')
    page.click('#create-room')
    page.wait_for_url('**/r/**')
    room_id = page.url.rstrip('/').rsplit('/', 1)[1]
    before = me(page, server.url)
    old_cookie = session_cookie(guest)
    page.goto(server.url + '/')
    expect(page.locator('.recent-list')).to_contain_text(room_id)

    # Sign in through the provider's login and consent pages.
    click_sign_in(page, 'Test')
    provider_login(page, 'alice')
    consent(page)
    page.wait_for_url(server.url + '/')
    expect(page.locator('.flashes')).to_contain_text('your name and rooms are kept')
    expect(page.locator('#signed-in-name')).to_have_text('Guesty')  # not the provider's
    expect(page.locator('.recent-list')).to_contain_text(room_id)
    after = me(page, server.url)
    assert after['user_id'] == before['user_id']  # upgraded in place, not replaced

    # The session cookie was made anew, and the guest's old one opens nothing now.
    assert session_cookie(guest) != old_cookie
    stale = requests.get(server.url + '/api/me', cookies={'session': old_cookie}, timeout=5)
    assert stale.status_code == 401

    # The same provider account from another browser reaches the same account.
    other = browser.new_context()
    second = other.new_page()
    second.set_default_timeout(20000)
    second.goto(server.url + '/')
    click_sign_in(second, 'Test')
    provider_login(second, 'alice')
    consent(second)
    second.wait_for_url(server.url + '/')
    expect(second.locator('.flashes')).to_contain_text('Welcome back, Guesty')
    assert me(second, server.url)['user_id'] == before['user_id']

    # Link a second provider to the signed-in account.
    second.get_by_role('button', name='Link Other').click()
    provider_login(second, 'alice')
    consent(second)
    second.wait_for_url(server.url + '/')
    expect(second.locator('.flashes')).to_contain_text('Other is linked to your account')
    expect(second.locator('.sign-in-note')).to_contain_text('With Test, Other')
    assert me(second, server.url)['user_id'] == before['user_id']

    # Sign out everywhere: the first browser's session ends too.
    second.click('#sign-out-everywhere')
    expect(second.locator('.flashes')).to_contain_text('Signed out on every device')
    assert me(second, server.url) is None
    page.reload()
    expect(page.get_by_role('button', name='Sign in with Test')).to_be_visible()
    assert me(page, server.url) is None
    guest.close()
    other.close()


def signed_in_player(browser, server, login):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20000)
    page.goto(server.url + '/')
    click_sign_in(page, 'Test')
    provider_login(page, login)
    consent(page)
    page.wait_for_url(server.url + '/')
    return page


# A 1x1 PNG: the provider's picture host (avatars.rhystic.test) is not on this machine.
PICTURE = base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAF'
                           'BQIAX8jx0gAAAABJRU5ErkJggg==')


def serve_picture(page):
    page.route('https://avatars.rhystic.test/**',
               lambda route: route.fulfill(status=200, content_type='image/png', body=PICTURE))


def test_the_room_shows_who_signed_in_and_can_refuse_guests(site, browser, player):
    server, _provider = site
    erin = signed_in_player(browser, server, 'erin')
    expect(erin.locator('#signed-in-name')).to_have_text('Erin')  # the provider's name
    erin.click('#create-room')  # the name field holds "Erin" already
    erin.wait_for_url('**/r/**')
    invite = erin.url
    avatar = 'https://avatars.rhystic.test/erin.png'
    serve_picture(erin)
    join_room(erin)
    expect(erin.locator('#grid .tile.self .tile-avatar')).to_have_attribute('src', avatar)
    expect(erin.locator('#grid .tile.self .tile-avatar')).to_be_visible()

    # A guest sees Erin's picture and mark; their own tile has neither.
    guest = player()
    serve_picture(guest)
    guest.goto(invite)
    join_room(guest, 'Gus')
    erin_tile = tile(guest, 'Erin')
    expect(erin_tile.locator('.tile-avatar')).to_have_attribute('src', avatar)
    expect(erin_tile.locator('.tile-avatar')).to_be_visible()
    expect(erin_tile.locator('.badge-signed-in')).to_be_visible()
    expect(guest.locator('#grid .tile.self .badge-signed-in')).to_have_count(0)

    # The host lets only signed-in players in: the guest already here stays, a new one
    # is refused and told why.
    erin.click('#host-button')
    erin.get_by_role('switch', name='Only signed-in players may join').check()
    expect(erin.locator('#signed-in-switch')).to_be_checked()
    erin.keyboard.press('Escape')
    expect(guest.locator('#room-lock')).to_have_text('Signed-in players only')
    expect(guest.locator('#host-live')).to_have_text('Only signed-in players may join now.')
    late = player()
    late.goto(invite)
    late.fill('#name-input', 'Late')
    late.click('#join-button')
    expect(late.locator('#join-error')).to_contain_text('for signed-in players only')
    assert late.get_attribute('#room-app', 'data-view') == 'lobby'
    expect(tile(erin, 'Gus')).to_be_visible()
    erin.context.close()


def error_page(page, status, title):
    expect(page.locator('#sign-in-error-title')).to_have_text(title)
    expect(page.locator('.sign-in-error')).to_have_attribute('data-status', str(status))


def test_declined_consent_is_a_clear_page(site, browser):
    server, _provider = site
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url + '/')
    click_sign_in(page, 'Test')
    provider_login(page, 'dora')
    page.click('text=[ Cancel ]')
    error_page(page, 403, 'Not signed in')
    expect(page.locator('#sign-in-error-message')).to_contain_text('You did not allow Rhystic')
    assert me(page, server.url) is None
    context.close()


def test_a_provider_that_is_down_is_a_clear_page(site, browser):
    server, _provider = site
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url + '/')
    click_sign_in(page, 'Down')
    error_page(page, 503, 'Down did not answer')
    context.close()


def consent_and_catch_the_answer(page, base):
    """Press Continue on the consent page, and catch the provider's answer (Rhystic's
    callback URL, with code and state) instead of letting the browser take it there.

    The answer comes at the end of a chain of redirects, which page.route() does not see:
    the consent POST is fetched here, and the provider's redirects followed with the
    page's own cookies, up to the first one that leads back to Rhystic."""
    caught = []

    def on_submit(route):
        if route.request.method != 'POST':
            return route.continue_()
        response = route.fetch(max_redirects=0)
        location = urljoin(route.request.url, response.headers['location'])
        for _ in range(5):
            if location.startswith(base):
                break
            response = page.request.get(location, max_redirects=0)
            location = urljoin(location, response.headers['location'])
        caught.append(location)
        return route.fulfill(status=200, content_type='text/html', body='<p>caught</p>')

    page.route(re.compile(r'.*/interaction/.*'), on_submit)
    consent(page)
    page.wait_for_selector('text=caught')
    assert caught and caught[0].startswith(base + '/auth/test/callback?'), caught
    return caught[0]


REFUSED = {'state': 'State not equal in request and response', 'iss': 'another issuer',
           'expire': 'grant request is invalid', 'consume': 'grant request is invalid',
           'nonce': "Invalid claim: 'nonce'"}


@pytest.mark.parametrize('spoil', ['state', 'iss', 'expire', 'consume', 'nonce'])
def test_a_spoiled_answer_signs_nobody_in(site, browser, spoil):
    """The provider's answer, caught on its way back and spoiled: a wrong state; another
    issuer's name; a code the provider expired, or saw used already; an ID token signed
    for another nonce."""
    server, provider = site
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20000)
    page.goto(server.url + '/')
    click_sign_in(page, 'Test')
    provider_login(page, f'mallory-{spoil}')
    answer = consent_and_catch_the_answer(page, server.url)
    if spoil == 'state':
        answer = re.sub(r'state=[^&]+', 'state=not-the-state-we-sent', answer)
    elif spoil == 'iss':  # RFC 9207: an answer that names another issuer (a mix-up)
        answer = re.sub(r'iss=[^&]+', 'iss=' + quote(provider.issuers[1], safe=''), answer)
    else:
        assert provider.spoil_codes(spoil) >= 1
    page.goto(answer)
    error_page(page, 400, 'Sign-in did not work')
    expect(page.locator('#sign-in-error-message')).to_contain_text('could not be used')
    assert me(page, server.url) is None
    # Refused for the reason spoiled, by Authlib's state check, the provider itself, or
    # the ID token's nonce check.
    wait_until(lambda: REFUSED[spoil] in server.log(), 5, message=REFUSED[spoil])
    context.close()


def test_the_caught_answer_unspoiled_signs_in(site, browser):
    """The control for the test above: the same catch, left alone, signs in."""
    server, _provider = site
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20000)
    page.goto(server.url + '/')
    click_sign_in(page, 'Test')
    provider_login(page, 'mallory-control')
    page.goto(consent_and_catch_the_answer(page, server.url))
    expect(page.locator('#signed-in-name')).to_have_text('Mallory-control')
    context.close()
