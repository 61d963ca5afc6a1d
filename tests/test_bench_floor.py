"""The floor server (bench/reference/bare.py): it speaks relay.js's protocol, and the
benchmark runs it at toy size with nothing lost. Times are never asserted here."""
import json
import os
import subprocess
import sys

import pytest

from clients import PyPeer, refusal
from servers import Server

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CANDIDATE = {'candidate': 'candidate:1 1 udp 2122260223 192.0.2.7 50000 typ host',
             'sdpMid': '0', 'sdpMLineIndex': 0}


@pytest.fixture
def bare(tmp_path):
    server = Server({}, app='bench.reference.bare:app',
                    log_path=str(tmp_path / 'bare.log')).start()
    peers = []
    yield server, peers
    for peer in peers:
        peer.close()
    server.stop()
    assert 'Traceback' not in server.log(), server.log()[-3000:]


def test_bare_relays_and_refuses_as_relay_js_does(bare):
    server, peers = bare
    a = PyPeer(server.url, 'floor-room', 'any-token')
    peers.append(a)
    b = PyPeer(server.url, 'floor-room', 'any-token')
    peers.append(b)
    assert [p['peer_id'] for p in b.welcome['peers']] == [a.peer_id]
    assert a.next('peer-joined')['peer_id'] == b.peer_id

    assert b.emit('signal', {'to': a.peer_id, 'type': 'offer', 'sdp': 'v=0'}) == {'ok': True}
    assert a.next('signal') == {'from': b.peer_id, 'type': 'offer', 'sdp': 'v=0'}
    b.tell('signal', {'to': a.peer_id, 'type': 'ice', 'candidates': [CANDIDATE]})
    assert a.next('signal') == {'from': b.peer_id, 'type': 'ice', 'candidates': [CANDIDATE]}

    # A refusal is the ack when one was asked for, and `signal-error` when not: the
    # second needs the hook on python-socketio's private _handle_event_internal.
    assert b.emit('signal', {'to': 'p_nobody', 'type': 'offer', 'sdp': 'v=0'}) == {
        'ok': False, 'error': {'code': 'unknown_peer', 'message': 'no such peer'}}
    b.tell('signal', {'to': a.peer_id, 'type': 'ice', 'candidates': []})
    assert b.next('signal-error') == {'to': a.peer_id, 'type': 'ice', 'error': {
        'code': 'invalid_request', 'message': 'bad candidates'}}

    assert b.emit('leave', {}) == {'ok': True}
    assert a.next('peer-left') == {'peer_id': b.peer_id, 'reason': 'left'}
    assert refusal(server.url, 'floor-room')['message'] == 'unauthorized'


@pytest.mark.slow
def test_floor_bench_smoke(tmp_path):
    out = tmp_path / 'result.json'
    proc = subprocess.run([
        sys.executable, '-m', 'bench.signaling', '--json', str(out),
        '--servers', 'python-bare', '--setup-rooms', '2', '--storm-rooms', '3',
        '--hold-rooms', '3', '--hold-rate', '100', '--idle-seconds', '1', '--rooms', '2',
        '--rates', '100', '--seconds', '1', '--search-rates', '', '--procs', '2',
    ], cwd=ROOT, capture_output=True, text=True, timeout=120)
    printed = proc.stdout + proc.stderr
    assert proc.returncode == 0, printed[-4000:]
    assert 'Traceback' not in printed and 'errors:' not in proc.stdout, printed[-4000:]
    result = json.loads(out.read_text())
    assert result['errors'] == []
    [server] = result['results']
    assert server['server'] == 'python-bare'
    for mode in ('join', 'before', 'after'):
        setup = server['setup'][mode]
        assert setup['completed'] == 2 and setup['errors'] == 0, setup
        assert setup['duplicates'] == 0, setup
    assert server['storm']['completed'] == 3 and server['storm']['errors'] == 0
    assert server['hold']['peers'] == 24 and server['hold']['failed'] == 0
    assert server['hold']['relay']['gc'] is not None  # its GC log is read, as Rhystic's
    for run in [server['hold']['relay'], *server['relay']]:
        assert run['sent'] > 0
        assert run['lost'] == 0 and run['received'] == run['sent'], run
        assert run['unexpected'] == 0 and run['ack_errors'] == 0, run
        assert run['acked'] == run['sent'], run
