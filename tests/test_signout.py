"""Sign out everywhere ends the account's live room sockets (rhystic/signaling/signout.py),
on real gunicorn workers: two sharing a real Redis, and one alone without Redis. The
account's sockets are python-socketio clients with the session cookie or auth.token and
plain /ws clients; its sign-out is a POST from a browser session of its own."""
import re
from types import SimpleNamespace

import pytest
import requests

from clients import PyPeer, api_room, api_user, refusal
from conftest import redis_env
from rhystic.auth import CallerCache
from servers import Server, live_env, two_workers, wait_until
from test_plainws import WsPeer, connected_peers, ws_refusal

# POST /sign-out-everywhere exists only when a sign-in provider is configured; this one is
# a closed port that nothing here calls.
PROVIDER = {'RHYSTIC_OAUTH_TEST_ISSUER': 'http://127.0.0.1:9',
            'RHYSTIC_OAUTH_TEST_CLIENT_ID': 'id', 'RHYSTIC_OAUTH_TEST_CLIENT_SECRET': 'secret'}


class Browser:
    """One browser session of an account: made by POST /api/users, which signs it in."""

    def __init__(self, url, name):
        self.http = requests.Session()
        response = self.http.post(url + '/api/users', json={'display_name': name}, timeout=10)
        assert response.status_code == 201, response.text
        self.user = response.json()
        self.http.get(url + '/', timeout=10)  # the session now holds a CSRF token too
        self.cookie = '; '.join(f'{c.name}={c.value}' for c in self.http.cookies)

    def sign_out_everywhere(self, url):
        page = self.http.get(url + '/', timeout=10).text
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        response = self.http.post(url + '/sign-out-everywhere', headers={'X-CSRFToken': csrf},
                                  allow_redirects=False, timeout=10)
        assert response.status_code == 303, response.text


class Player(PyPeer):
    """A python-socketio peer that also records its disconnects; with cookie=..., it
    joins with that browser's session cookie instead of a token."""

    def __init__(self, url, room_id, token=None, cookie=None):
        self.cookie = cookie
        super().__init__(url, room_id, token, connect=False)
        self.sio.on('disconnect', self._recorder('disconnect'), namespace=self.ns)
        self.connect()

    def _auth(self):
        return {k: v for k, v in super()._auth().items() if v is not None}

    def connect(self, expect_welcome=True):
        headers = {'Cookie': self.cookie} if self.cookie else {}
        self.sio.connect(self.url, namespaces=[self.ns], transports=['websocket'],
                         auth=lambda: self._auth(), headers=headers, wait_timeout=10)
        wait_until(lambda: self.inbox.welcomes, 10, message='welcome')
        return self

    def signed_out(self):
        """Its own seat's peer-left says signed_out, and then the server closes it."""
        own = self.next('peer-left', lambda p: p['peer_id'] == self.peer_id)
        wait_until(lambda: not self.sio.connected, 10, message='the socket closed')
        return own['reason']


def test_a_caller_read_while_the_account_was_forgotten_is_not_cached():
    """A socket's load() waits on SQL; a sign-out landing meanwhile must not be undone by
    caching what it read before (that would admit the old session for another 30 s)."""
    cache, reads = CallerCache(), []
    sam = SimpleNamespace(public_id='u_sam', display_name='Sam', signed_in=True,
                          avatar_url=None)

    def read_during_sign_out():
        reads.append(1)
        cache.forget('u_sam')  # the sign-out's message arrives while this read waits
        return sam
    assert cache.get('s:u_sam:0', read_during_sign_out).public_id == 'u_sam'
    assert cache.get('s:u_sam:0', lambda: reads.append(2)) is None  # read again: gone
    assert cache.get('s:u_sam:1', lambda: sam) and cache.get('s:u_sam:1', lambda: None)


def cookie_refusal(url, room_id, cookie):
    """Join with a session cookie; the connect_error's message (its code)."""
    return refusal(url, room_id, headers={'Cookie': cookie})['message']


def left(peer, peer_id):
    return peer.next('peer-left', lambda p: p['peer_id'] == peer_id)['reason']


@pytest.fixture
def pair(tmp_path, redis_prefix):
    # A long grace period: the dropped seat can leave in time only by the sign-out.
    yield from two_workers(live_env(tmp_path, **redis_env(redis_prefix), **PROVIDER,
                                    RHYSTIC_GRACE_SECONDS='120'))


@pytest.mark.slow
def test_every_seat_of_the_account_ends_on_every_worker(pair, redis_prefix, redis_client):
    (one, two), peers = pair
    sam = Browser(one.url, 'Sam')
    alice, bob, carol = (api_user(one.url, name) for name in ('Alice', 'Bob', 'Carol'))
    first, second = api_room(one.url, alice['token']), api_room(one.url, bob['token'])
    a = Player(two.url, first, alice['token'])
    b = Player(one.url, second, bob['token'])
    peers += [a, b]
    # Sam: by cookie on worker one, by token on worker two, over /ws on worker one (so
    # that worker one has cached both the session and the token).
    by_cookie = Player(one.url, first, cookie=sam.cookie)
    by_token = Player(two.url, second, sam.user['token'])
    by_ws = WsPeer(one.url, second, sam.user['token'])
    # And one whose connection dropped (a laptop gone offline): away, in its grace period.
    dropped = WsPeer(two.url, first, sam.user['token'])
    peers += [by_cookie, by_token, by_ws, dropped]
    assert {a.next('peer-joined')['peer_id'] for _ in range(2)} == {by_cookie.peer_id,
                                                                     dropped.peer_id}
    assert {b.next('peer-joined')['peer_id'] for _ in range(2)} == {by_token.peer_id,
                                                                     by_ws.peer_id}
    dropped.drop()
    wait_until(lambda: redis_client.zscore(redis_prefix + 'away', f'{first} {dropped.peer_id}'),
               10, message='the dropped seat in its grace period')

    sam.sign_out_everywhere(two.url)  # a third session of Sam's, on worker two

    assert by_cookie.signed_out() == 'signed_out'
    assert by_token.signed_out() == 'signed_out'
    assert by_ws.next('peer-left', lambda p: p['peer_id'] == by_ws.peer_id)['reason'] \
        == 'signed_out'
    assert by_ws.wait_closed() == 1000
    # The others see Sam go, at once and with the reason.
    assert left(a, by_cookie.peer_id) == 'signed_out'
    assert left(a, dropped.peer_id) == 'signed_out'  # not a timeout, two minutes on
    assert left(b, by_token.peer_id) == 'signed_out'
    assert left(b, by_ws.peer_id) == 'signed_out'

    # Sam's old cookie and token are refused on both workers now, not after the cache's
    # 30 s: worker one learnt of the sign-out only through Redis.
    for server in (one, two):
        assert cookie_refusal(server.url, first, sam.cookie) == 'unauthorized'
        assert refusal(server.url, second, token=sam.user['token'])['message'] \
            == 'unauthorized'
        assert ws_refusal(server.url, first, token=sam.user['token'])[0]['code'] \
            == 'unauthorized'

    # Nobody else was touched, and Sam's seats are free: a newcomer sees only Alice.
    assert a.sio.connected and b.sio.connected
    assert a.emit('ice-servers')['ok'] and b.emit('ice-servers')['ok']
    c = Player(one.url, first, carol['token'])
    peers.append(c)
    assert [p['peer_id'] for p in c.welcome['peers']] == [a.peer_id]
    assert not [p for p in a.inbox.events('peer-left') + b.inbox.events('peer-left')
                if p['peer_id'] in (a.peer_id, b.peer_id)]
    for server in (one, two):
        assert 'Traceback' not in server.log(), server.log()[-3000:]


@pytest.fixture
def alone(tmp_path):
    server = Server(live_env(tmp_path, **PROVIDER, RHYSTIC_GRACE_SECONDS='120')).start()
    peers = []
    yield server, peers
    for peer in peers:
        peer.close()
    server.stop()


def test_one_worker_without_redis(alone):
    server, peers = alone
    sam, alice = Browser(server.url, 'Sam'), api_user(server.url, 'Alice')
    first, second = api_room(server.url, alice['token']), api_room(server.url, sam.user['token'])
    a = Player(server.url, first, alice['token'])
    by_cookie = Player(server.url, first, cookie=sam.cookie)
    by_ws = WsPeer(server.url, second, sam.user['token'])
    dropped = WsPeer(server.url, first, sam.user['token'])
    peers += [a, by_cookie, by_ws, dropped]
    assert {a.next('peer-joined')['peer_id'] for _ in range(2)} == {by_cookie.peer_id,
                                                                     dropped.peer_id}
    dropped.drop()  # away: the one process marks it so as it forgets the socket
    wait_until(lambda: connected_peers(server.url) == 3, 10, message='the seat away')

    sam.sign_out_everywhere(server.url)

    assert by_cookie.signed_out() == 'signed_out'
    assert by_ws.next('peer-left')['reason'] == 'signed_out'
    assert by_ws.wait_closed() == 1000
    assert left(a, by_cookie.peer_id) == 'signed_out'
    assert left(a, dropped.peer_id) == 'signed_out'
    assert cookie_refusal(server.url, first, sam.cookie) == 'unauthorized'
    assert refusal(server.url, second, token=sam.user['token'])['message'] == 'unauthorized'
    assert a.sio.connected and a.emit('ice-servers')['ok']
    assert 'Traceback' not in server.log(), server.log()[-3000:]
