"""The README's quick start, run as written with curl against a real server: an account,
a room made without signing in, and the room claimed with its one-time owner token."""
import json
import os
import re
import sqlite3
import subprocess

import pytest

from clients import PyPeer, api_user
from servers import ROOT, Server, live_env
from test_plainws import WsPeer

README = os.path.join(ROOT, 'README.md')
# Values every reader gets alike, so the README must show them exactly.
FIXED = ('status', 'name', 'max_peers', 'username', 'display_name')


def quickstart():
    """[(command, the JSON the README shows it answering)], and the variable names that
    the README asks the reader to set ("yours, from the ... answer")."""
    text = open(README, encoding='utf-8').read()
    section = re.search(r'<!-- section: quickstart -->\n(.*?)<!-- /section: quickstart -->',
                        text, re.S).group(1)
    blocks = re.findall(r'```(\w*)\n(.*?)```', section, re.S)
    commands, answers, variables = [], [], []
    for lang, body in blocks:
        if lang == 'json':
            answers.append(json.loads(body))
            continue
        for line in re.sub(r'\\\n\s*', '', body).splitlines():
            assignment = re.fullmatch(r'([A-Z_]+)=\S+\s*(#.*)?', line.strip())
            if assignment:
                variables.append(assignment.group(1))
            elif line.strip():
                commands.append(line.strip())
    return list(zip(commands, answers)), variables


def run(command, base, env=None):
    """The command as written, on the test's server; curl adds the status on a last line."""
    command = command.replace('http://localhost:8080', base) + " -s -w '\\n%{http_code}'"
    done = subprocess.run(['bash', '-c', command], capture_output=True, text=True, timeout=30,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, (command, done.stderr)
    body, _, status = done.stdout.rpartition('\n')
    return int(status), json.loads(body)


def assert_shape(actual, expected):
    assert set(actual) == set(expected), (actual, expected)
    for key in FIXED:
        if key in expected:
            assert actual[key] == expected[key], (key, actual)


@pytest.fixture
def server(tmp_path):
    server = Server(live_env(tmp_path, 'quickstart')).start()
    yield server
    server.stop()


def test_the_quick_start_works_as_written_and_the_owner_token_makes_a_host(server, tmp_path):
    examples, variables = quickstart()
    assert [command.split()[:4] for command, _ in examples] == [
        ['curl', '-X', 'POST', 'http://localhost:8080/api/users'],
        ['curl', '-X', 'POST', 'http://localhost:8080/api/rooms'],
        ['curl', '-X', 'POST', 'http://localhost:8080/api/rooms/$ROOM_ID/claim']]
    assert examples[1][0] == 'curl -X POST http://localhost:8080/api/rooms'  # verbatim
    assert variables == ['TOKEN', 'ROOM_ID', 'OWNER_TOKEN']

    (user_cmd, user_doc), (room_cmd, room_doc), (claim_cmd, claim_doc) = examples
    status, user = run(user_cmd, server.url)
    assert status == 201
    assert_shape(user, user_doc)
    status, room = run(room_cmd, server.url)  # no cookie jar, no token
    assert status == 201
    assert_shape(room, room_doc)
    assert room['url'] == f'{server.url}/r/{room["room_id"]}'
    owner_token = room['owner_token']
    with sqlite3.connect(tmp_path / 'quickstart.db') as db:  # kept as a hash, never as is
        stored = db.execute('SELECT owner_token_hash, created_by FROM rooms').fetchall()
    assert len(stored) == 1 and stored[0][1] is None and len(stored[0][0]) == 64
    assert owner_token not in stored[0][0]

    # Before the claim nobody owns the room; the claim makes player1 its host.
    env = {'TOKEN': user['token'], 'ROOM_ID': room['room_id'], 'OWNER_TOKEN': owner_token}
    status, claimed = run(claim_cmd, server.url, env)
    assert status == 200
    assert_shape(claimed, claim_doc)
    assert claimed['owner'] == user['user_id']
    host = PyPeer(server.url, room['room_id'], user['token'])
    guest = api_user(server.url, 'Guest')
    other = WsPeer(server.url, room['room_id'], guest['token'])
    try:
        assert host.welcome['owner'] is True and other.welcome['owner'] is False
        assert host.emit('kick', {'peer_id': other.peer_id}) == {'ok': True}
        assert other.next('peer-left')['reason'] == 'kicked'
    finally:
        host.close()
        other.close()

    # The token is spent: a second use fails, whoever presents it.
    for token in (guest['token'], user['token']):
        status, refused = run(claim_cmd, server.url, {**env, 'TOKEN': token})
        assert status == 403
        assert refused['error']['code'] == 'owner_token_invalid'
    with sqlite3.connect(tmp_path / 'quickstart.db') as db:
        assert db.execute('SELECT owner_token_hash FROM rooms').fetchone() == (None,)


def test_a_room_made_without_signing_in_has_no_host_until_claimed(server):
    """Nobody may kick in an unclaimed room, not even the account that asked for it."""
    player = api_user(server.url, 'Player')
    status, room = run('curl -X POST http://localhost:8080/api/rooms', server.url)
    assert status == 201
    a = PyPeer(server.url, room['room_id'], player['token'])
    b = WsPeer(server.url, room['room_id'], api_user(server.url, 'B')['token'])
    try:
        assert a.welcome['owner'] is False
        assert a.emit('kick', {'peer_id': b.peer_id})['error']['code'] == 'forbidden'
    finally:
        a.close()
        b.close()
