"""TURN REST credentials: the pure function, and proof against a real coturn."""
import base64
import hashlib
import hmac
import re
import secrets
import subprocess
import time

import pytest

from conftest import make_app, new_user
from rhystic import turn
from servers import Coturn, free_port


def expected_credential(secret, username):
    # Written out here, independently of rhystic.turn: what coturn computes.
    mac = hmac.new(secret.encode('utf-8'), username.encode('utf-8'), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode('ascii')


# --- the pure function -------------------------------------------------------------

@pytest.mark.parametrize('secret,user_id,ttl,now', [
    ('s3cret', 'u_abc', 3600, 1_700_000_000),
    ('another secret', 'u_XyZ-09_', 60, 1_700_000_000.9),
    ('ünïcode-sécret', 'u_1', 86400, 0),
])
def test_turn_credentials_recomputed_independently(secret, user_id, ttl, now):
    creds = turn.turn_credentials(secret, user_id, ttl, now, ['turn:a:3478', 'turns:a:5349'])
    assert set(creds) == {'username', 'credential', 'ttl', 'urls'}
    assert creds['username'] == f'{int(now) + ttl}:{user_id}'
    assert creds['credential'] == expected_credential(secret, creds['username'])
    assert len(base64.b64decode(creds['credential'])) == 20  # SHA-1
    assert creds['ttl'] == ttl
    assert creds['urls'] == ['turn:a:3478', 'turns:a:5349']


def test_turn_credentials_depend_on_every_input():
    base = turn.turn_credentials('s', 'u_a', 100, 1000)
    assert turn.turn_credentials('s', 'u_a', 100, 1000) == base
    assert turn.turn_credentials('t', 'u_a', 100, 1000)['credential'] != base['credential']
    assert turn.turn_credentials('s', 'u_b', 100, 1000)['credential'] != base['credential']
    assert turn.turn_credentials('s', 'u_a', 101, 1000)['credential'] != base['credential']
    assert turn.turn_credentials('s', 'u_a', 100, 1001)['credential'] != base['credential']


CONFIG = {'TURN_SECRET': 'sekrit', 'TURN_URLS': ['turn:t.example.org:3478'],
          'STUN_URLS': ['stun:s.example.org:3478'], 'TURN_TTL': 600, 'TURN_REALM': 'r',
          'ICE_TRANSPORT_POLICY': 'relay'}


def test_ice_servers_stun_then_turn():
    servers = turn.ice_servers(CONFIG, 'u_me', now=2000)
    username = '2600:u_me'
    assert servers == [
        {'urls': ['stun:s.example.org:3478']},
        {'urls': ['turn:t.example.org:3478'], 'username': username,
         'credential': expected_credential('sekrit', username)},
    ]


def test_ice_servers_without_turn_or_stun():
    assert turn.ice_servers({**CONFIG, 'TURN_SECRET': None}, 'u_me', 0) == [
        {'urls': ['stun:s.example.org:3478']}]
    assert turn.ice_servers({**CONFIG, 'TURN_URLS': [], 'STUN_URLS': []}, 'u_me', 0) == []


def test_client_config():
    config = turn.client_config(CONFIG, 'u_me')
    assert config['iceTransportPolicy'] == 'relay'
    assert config['ttl'] == 600
    assert len(config['iceServers']) == 2


def test_coturn_config_shares_secret_and_realm_and_is_hardened():
    text = turn.coturn_config({'TURN_SECRET': 'the-secret', 'TURN_REALM': 'games.example'},
                              3479, 5350)
    lines = text.splitlines()
    for line in ('use-auth-secret', 'static-auth-secret=the-secret', 'realm=games.example',
                 'listening-port=3479', 'tls-listening-port=5350', 'no-cli',
                 'no-multicast-peers', 'fingerprint'):
        assert line in lines
    assert any(re.fullmatch(r'user-quota=\d+', line) for line in lines)
    assert any(re.fullmatch(r'total-quota=\d+', line) for line in lines)
    denied = [line.split('=', 1)[1] for line in lines if line.startswith('denied-peer-ip=')]
    for needed in ('10.0.0.0-10.255.255.255', '127.0.0.0-127.255.255.255',
                   '172.16.0.0-172.31.255.255', '192.168.0.0-192.168.255.255',
                   '169.254.0.0-169.254.255.255', '224.0.0.0-255.255.255.255', '::1'):
        assert needed in denied
    assert 'allow-loopback-peers' not in text


# --- against a real coturn ----------------------------------------------------------

def uclient(port, username, credential):
    """turnutils_uclient: allocate relays and send data between two of them (-y)."""
    done = subprocess.run(
        ['turnutils_uclient', '-y', '-n', '3', '-u', username, '-w', credential,
         '-p', str(port), '127.0.0.1'],
        capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


def assert_relayed(code, output):
    assert code == 0, output
    assert 'ERROR' not in output, output
    received = [int(n) for n in re.findall(r'tot_recv_msgs=(\d+)', output)]
    assert received and received[-1] > 0, output


def assert_refused(code, output):
    assert code != 0, output
    assert 'Cannot complete Allocation' in output, output
    assert not re.search(r'tot_recv_msgs=[1-9]', output), output


@pytest.fixture
def turn_setup(tmp_path):
    """The app and a real coturn sharing one secret and realm; coturn's port in the URL."""
    port = free_port()
    secret = secrets.token_urlsafe(24)
    app = make_app(tmp_path, TURN_SECRET=secret, TURN_REALM='rhystic-test',
                   TURN_URLS=[f'turn:127.0.0.1:{port}'])
    coturn = Coturn(app.config['TURN_SECRET'], realm=app.config['TURN_REALM'], port=port)
    coturn.start()
    yield app, coturn
    coturn.stop()


def fetch_turn(app):
    client = app.test_client()
    user = new_user(client, 'relayed')
    response = client.get(f'/turn?user_id={user["user_id"]}')
    assert response.status_code == 200
    creds = response.get_json()
    port = int(creds['urls'][0].rsplit(':', 1)[1])
    return user, creds, port


def test_real_coturn_accepts_the_apps_credentials(turn_setup):
    app, coturn = turn_setup
    _, creds, port = fetch_turn(app)
    assert port == coturn.port
    assert_relayed(*uclient(port, creds['username'], creds['credential']))


def test_real_coturn_refuses_a_tampered_credential(turn_setup):
    app, coturn = turn_setup
    _, creds, port = fetch_turn(app)
    raw = bytearray(base64.b64decode(creds['credential']))
    raw[0] ^= 0x01
    tampered = base64.b64encode(bytes(raw)).decode()
    assert_refused(*uclient(port, creds['username'], tampered))
    # A different user id with the same credential is a tampered username.
    expiry = creds['username'].split(':', 1)[0]
    assert_refused(*uclient(port, f'{expiry}:u_someone_else', creds['credential']))
    # The control: the untouched pair still works on the same coturn.
    assert_relayed(*uclient(port, creds['username'], creds['credential']))


def test_real_coturn_refuses_an_expired_username(turn_setup):
    app, coturn = turn_setup
    user, creds, port = fetch_turn(app)
    ttl = app.config['TURN_TTL']
    expired = turn.turn_credentials(app.config['TURN_SECRET'], user['user_id'], ttl,
                                    time.time() - ttl - 60)
    assert int(expired['username'].split(':')[0]) < time.time()
    assert_refused(*uclient(port, expired['username'], expired['credential']))
    # Signed with the right secret, so only the expiry can be what coturn refused.
    still_valid = turn.turn_credentials(app.config['TURN_SECRET'], user['user_id'], ttl,
                                        time.time())
    assert_relayed(*uclient(port, still_valid['username'], still_valid['credential']))
