"""Sign out everywhere, for the sockets: every worker forgets the account and ends its seats.

POST /sign-out-everywhere (oauth.py) ends the account's sessions in the database. That
alone leaves two holes: each worker's caller cache (auth.callers) would still admit the
old cookie or token for up to 30 s, and the sockets already seated would keep their seats,
their video signaling and their game actions until they dropped. So the worker that
answers the request ends what it holds at once and publishes the account's id on one Redis
channel every worker listens on; each of them then finds the account's sockets among its
own (a walk over its sessions, on a rare event) rather than anything being written per
join. Each seat goes at once with `peer-left` reason `signed_out` (no grace period), and
the socket is closed (docs/protocol.md §4); the answering worker also frees the account's
seats that are in their grace period, socketless. With no Redis it is all one worker.

A worker that misses the message (Redis away at that moment) still refuses the old
credentials within the cache's ttl; its sockets stay until they drop.
"""
import json
import logging

from ..auth import callers
from . import protocol
from .rooms import Departure
from .upkeep import listen_forever

log = logging.getLogger('rhystic.signaling')
FOREVER = 1e18  # later than any away_until: every seat in its grace period


class SignOuts:
    def __init__(self, signaling):
        self.signaling = signaling
        store = signaling.rooms.store
        self.redis = store.r if store.shared else None
        self.channel = f'{store.p}signed-out' if store.shared else None
        self.worker = signaling.rooms.worker
        self._listening = False

    def everywhere(self, user_id):
        """The account signed out everywhere: this worker at once, the others by Redis."""
        self.end_here(user_id)
        try:
            self.free_away_seats(user_id)
        except Exception:  # the store away: those seats time out after their grace
            log.exception('away seats not freed', extra={'event': 'error', 'user': user_id})
        if self.redis is None:
            return
        try:
            self.redis.publish(self.channel, json.dumps({'user': user_id,
                                                         'worker': self.worker}))
        except Exception:  # Redis away: the others' caches let the old session go in 30 s
            log.warning('sign-out not sent to the other workers', extra={
                'event': 'error', 'user': user_id})

    def end_here(self, user_id):
        """Forget the account in this worker's cache, then end its seats here."""
        callers.forget(user_id)
        mine = [(sid, session) for sid, session in list(self.signaling.sessions.items())
                if session.user_id == user_id]
        for sid, session in mine:
            try:
                self.signaling.end_seat(sid, session, protocol.SIGNED_OUT)
            except Exception:  # the store away: that socket is closed all the same
                log.exception('signed-out seat not freed', extra={
                    'event': 'error', 'room': session.room_id, 'peer': session.peer_id})
        if mine:
            log.info('%d seats ended: signed out everywhere', len(mine),
                     extra={'event': 'seats_signed_out', 'user': user_id})

    def free_away_seats(self, user_id):
        """The account's seats in their grace period (no socket anywhere) go too: nobody
        can resume them with the old credentials, so the others need not wait for them.
        Read from the store's index of away seats, which is short; done once, here."""
        rooms = self.signaling.rooms
        for room_id, peer_id in rooms.store.due(FOREVER):
            seat = rooms.store.get_seat(room_id, peer_id)
            if seat is None or seat.user_id != user_id:
                continue
            # due_by: only while it is still away; a seat resumed meanwhile stays put.
            if rooms.store.remove_seat(room_id, peer_id, protocol.SIGNED_OUT,
                                       rooms.tomb_seconds, due_by=FOREVER):
                self.signaling._announce_departure(
                    Departure(room_id, peer_id, protocol.SIGNED_OUT))

    # -- the other workers' messages --------------------------------------------------

    def listen(self):
        """Subscribe now (a sign-out right after this worker's first seat must be heard),
        then read the channel in the background. Once per worker; nothing without Redis."""
        if self.redis is None or self._listening:
            return
        self._listening = True
        try:
            first = self._subscribe()
        except Exception:  # Redis away: the loop keeps trying
            first = None
        self.signaling.socketio.start_background_task(
            listen_forever, self.signaling, self._subscribe,
            lambda subscription: subscription.get_message(timeout=1.0),
            lambda message: self._on_message(message['data']), 'sign-out channel', first)

    def _subscribe(self):
        subscription = self.redis.pubsub(ignore_subscribe_messages=True)
        subscription.subscribe(self.channel)
        return subscription

    def _on_message(self, data):
        try:
            message = json.loads(data)
            if message['worker'] != self.worker:  # our own was ended when it was sent
                self.end_here(message['user'])
        except Exception:
            log.exception('sign-out message not handled', extra={'event': 'error'})
