"""Each relayed signal reaches its addressee exactly once, across two gunicorn workers on
Redis (the duplicates bench/signaling.py once reported; bench/README.md)."""
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from clients import PyPeer, api_room, api_user
from conftest import redis_env
from servers import two_workers, wait_until
from test_signaling_live import server_env

pytestmark = pytest.mark.slow


@pytest.fixture
def pair(tmp_path, redis_prefix):
    env = server_env(tmp_path, **redis_env(redis_prefix), RHYSTIC_SIGNAL_RATE='1000',
                     RHYSTIC_SIGNAL_BURST='1000')
    yield from two_workers(env)


def candidate(tag):
    """A candidate whose `candidate` line names the signal: sender, addressee, number."""
    return {'candidate': f'candidate:1 1 udp 2122260223 192.0.2.7 50000 typ host '
                         f'generation 0 tag {tag}', 'sdpMid': '0', 'sdpMLineIndex': 0}


def tags_received(peer):
    tags = []
    for signal in peer.inbox.events('signal'):
        if signal['type'] == 'ice':
            found = signal.get('candidates') or [signal['candidate']]
            tags += [c['candidate'].rsplit(' tag ', 1)[1] for c in found]
        else:
            tags.append(signal['sdp'])
    return tags


def wait_for(peers, sent, message):
    """Until every tag sent to each peer has arrived; then the counts must be exact."""
    def arrived():
        return all(set(sent[p.peer_id]) <= set(tags_received(p)) for p in peers)
    wait_until(arrived, 20, message=message)
    # A second copy could still be on its way: a fence sent after everything, along the
    # same path from every sender, must be in before the counts are read.
    for sender in peers:
        for to in peers:
            if to is not sender:
                fence = f'fence {sender.peer_id}>{to.peer_id}'
                assert sender.emit('signal', {'to': to.peer_id, 'type': 'offer',
                                              'sdp': fence}) == {'ok': True}
                sent[to.peer_id].append(fence)
    wait_until(lambda: all(set(sent[p.peer_id]) <= set(tags_received(p)) for p in peers),
               20, message='the fences')
    for peer in peers:
        twice = {t: n for t, n in Counter(tags_received(peer)).items() if n > 1}
        assert not twice, f'{peer.peer_id} got these more than once: {sorted(twice)[:10]}'
        assert sorted(tags_received(peer)) == sorted(sent[peer.peer_id])


def test_two_hundred_signals_between_workers_each_arrive_once(pair):
    (one, two), peers = pair
    owner = api_user(one.url, 'Owner')
    room_id = api_room(one.url, owner['token'], max_peers=4)
    tokens = [api_user(one.url, f'P{n}')['token'] for n in range(4)]
    peers += [PyPeer(server.url, room_id, token)
              for server, token in zip((one, one, two, two), tokens)]
    sent = {p.peer_id: [] for p in peers}
    here, there = peers[:2], peers[2:]
    # Every cross-worker direction, in all three forms: an acked offer, an acked single
    # candidate, and unacked candidate lists (as the web client sends ICE).
    for n in range(27):
        for sender, to in [(s, t) for s in here for t in there] + \
                          [(s, t) for s in there for t in here]:
            tag = f'{sender.peer_id}>{to.peer_id} #{n}'
            if n % 3 == 0:
                assert sender.emit('signal', {'to': to.peer_id, 'type': 'offer',
                                              'sdp': tag}) == {'ok': True}
                sent[to.peer_id].append(tag)
            elif n % 3 == 1:
                assert sender.emit('signal', {'to': to.peer_id, 'type': 'ice',
                                              'candidate': candidate(tag)}) == {'ok': True}
                sent[to.peer_id].append(tag)
            else:
                listed = [f'{tag}.{k}' for k in range(2)]
                sender.send_candidates(to.peer_id, [candidate(t) for t in listed])
                sent[to.peer_id] += listed
    assert sum(len(tags) for tags in sent.values()) == 8 * 36  # 288 signals, 216 frames
    wait_for(peers, sent, 'every signal sent across the workers')


def test_eight_joining_at_once_across_workers_each_signal_arrives_once(pair):
    """The bench's room setup: 8 join at once, 4 on each worker; a newcomer offers to
    the peers in its welcome, an offered peer answers, and each end sends its candidates
    after its offer or answer. Joining at once, two newcomers can each find the other in
    their welcome and both offer (docs/protocol.md §9): then each sends its candidates
    twice, once per round, and a count keyed on the candidate alone sees them twice."""
    (one, two), peers = pair
    owner = api_user(one.url, 'Owner')
    room_id = api_room(one.url, owner['token'], max_peers=8)
    tokens = [api_user(one.url, f'P{n}')['token'] for n in range(8)]
    with ThreadPoolExecutor(8) as pool:
        peers += pool.map(lambda n: PyPeer((one, two)[n % 2].url, room_id, tokens[n]),
                          range(8))
    sent = {p.peer_id: [] for p in peers}

    def send_round(sender, to, kind):
        tag = f'{sender.peer_id}>{to} {kind}'
        assert sender.emit('signal', {'to': to, 'type': kind, 'sdp': tag}) == {'ok': True}
        listed = [f'{tag}.{k}' for k in range(4)]
        sender.send_candidates(to, [candidate(t) for t in listed])
        return [(to, tag)] + [(to, t) for t in listed]

    def offer_to_welcome_peers(peer):
        return [s for other in peer.welcome['peers'] for s in
                send_round(peer, other['peer_id'], 'offer')]

    with ThreadPoolExecutor(8) as pool:
        offers = [s for sends in pool.map(offer_to_welcome_peers, peers) for s in sends]
    for to, tag in offers:
        sent[to].append(tag)
    offered = Counter((tag.split('>')[0], to) for to, tag in offers if tag.endswith('offer'))
    assert {frozenset(pair) for pair in offered} == \
        {frozenset((a.peer_id, b.peer_id)) for a in peers for b in peers if a is not b}, \
        'every pair has at least one offer'
    wait_until(lambda: all(sum(1 for s in p.inbox.events('signal') if s['type'] == 'offer')
                           == sum(1 for (_, to) in offered if to == p.peer_id)
                           for p in peers), 20, message='every offer')

    def answer_offers(peer):
        return [s for signal in peer.inbox.events('signal') if signal['type'] == 'offer'
                for s in send_round(peer, signal['from'], 'answer')]

    with ThreadPoolExecutor(8) as pool:
        for to, tag in [s for sends in pool.map(answer_offers, peers) for s in sends]:
            sent[to].append(tag)
    wait_for(peers, sent, 'every answer and candidate')
    # What the bench counted as delivered twice: a candidate keyed on its sender,
    # addressee and number, not its round. Exactly the links offered from both ends show
    # up, each end's 4 candidates once more: the server relayed nothing twice.
    both = sum(1 for (a, b) in offered if (b, a) in offered) // 2
    assert len(offered) == 28 + both
    old_keys = Counter((tag.split(' ')[0], tag.rsplit('.', 1)[1]) for p in peers
                       for tag in tags_received(p) if '.' in tag and 'fence' not in tag)
    assert sum(n - 1 for n in old_keys.values()) == both * 2 * 4
