"""The web client sends ICE candidates in lists, without an ack (docs/protocol.md §5).

Read off the Socket.IO frames Chromium sends: an `ice` signal is a `42/room/<id>,[...]`
packet with no ack id before its `[`, and carries `candidates`; offers and answers still
ask for an ack (`42/room/<id>,<id>[...]`).
"""
import json
import re

import pytest

from e2e.helpers import create_room, open_invite, wait_live

pytestmark = pytest.mark.browser
EVENT = re.compile(r'^42(/room/[a-z0-9-]+),(\d*)(\[.*)$', re.S)


def signals_sent(page):
    """Every `signal` this page sends: (ack id or '', payload), as it goes out."""
    sent = []

    def on_socket(ws):
        def on_frame(frame):
            match = EVENT.match(frame if isinstance(frame, str) else '')
            if match:
                event = json.loads(match.group(3))
                if event[0] == 'signal':
                    sent.append((match.group(2), event[1]))
        ws.on('framesent', on_frame)
    page.on('websocket', on_socket)
    return sent


def test_candidates_go_in_lists_without_an_ack_and_the_call_connects(server, player):
    alice, bob = player(), player()
    sent = {'Alice': signals_sent(alice), 'Bob': signals_sent(bob)}
    invite = create_room(alice, server.url, 'Alice')
    open_invite(bob, invite, 'Bob')
    wait_live(alice, ['Bob'])
    wait_live(bob, ['Alice'])

    for name, signals in sent.items():
        ice = [(ack, s) for ack, s in signals if s['type'] == 'ice']
        sdp = [(ack, s) for ack, s in signals if s['type'] != 'ice']
        assert ice and sdp, (name, signals)
        assert all(ack == '' for ack, _ in ice), f'{name} asked for an ack on ice: {ice}'
        assert all('candidates' in s and 'candidate' not in s for _, s in ice), ice
        assert all(ack != '' for ack, _ in sdp), f'{name} sent an offer or answer unacked'
        candidates = sum(len(s['candidates']) for _, s in ice)
        assert candidates >= len(ice), (name, ice)
