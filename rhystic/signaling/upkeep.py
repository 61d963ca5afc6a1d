"""A worker's background work for signaling, beside the handlers (handlers.py).

- the sweeper: every second, the seats whose grace period ran out leave, and after a
  store outage the seats held here are put back;
- the inbox: signals that other workers relay to sockets held here, read from Redis.

Both start at the worker's first connect (`ensure_running`), together with the
sign-out channel (signout.py), and stop when `running` goes False at shutdown.
"""
import logging

from . import protocol

log = logging.getLogger('rhystic.signaling')


def listen_forever(owner, subscribe, receive, handle, what, subscription=None):
    """Read one Redis subscription while owner.running; subscribe again after a loss.

    `subscribe()` gives a subscription (`subscription` is one already made), `receive(s)`
    a message or None after a short wait, `handle(message)` deals with one. `what`
    names it in the log.
    """
    while owner.running:
        try:
            subscription = subscription or subscribe()
            message = receive(subscription)
        except Exception:  # Redis away: subscribe again
            log.warning('%s lost; subscribing again', what, extra={'event': 'error'})
            close_quietly(subscription)
            subscription = None
            owner.socketio.sleep(1.0)
            continue
        if message:
            handle(message)


def close_quietly(subscription):
    try:
        if subscription is not None:
            subscription.close()
    except Exception:  # its connection is already broken: nothing to give back
        pass


class Upkeep:
    """Signaling's background tasks (a mixin of handlers.Signaling, which owns the state:
    rooms, server, socketio, running, _sweeper)."""

    def ensure_running(self):
        if self._sweeper is not None:
            return
        self._sweeper = self.socketio.start_background_task(self._sweep_forever)
        self.signouts.listen()
        if self.rooms.store.shared:
            # Subscribed now, before this worker's first seat is visible: a signal
            # another worker sends that seat must find the inbox listening.
            try:
                first = self.rooms.subscribe()
            except Exception:  # Redis away: the listener keeps trying
                first = None
            self.socketio.start_background_task(
                listen_forever, self, self.rooms.subscribe, self.rooms.receive,
                self._on_forwarded, 'signal inbox', first)

    def sweep_once(self):
        departures = self.rooms.sweep()
        if self.rooms.resync_needed:
            self.reregister_seats()
        for departure in departures:
            self._announce_departure(departure)

    def reregister_seats(self):
        """After Redis was away or came back empty, put back the seats whose sockets are
        here; a socket whose seat was given up meanwhile is closed, so that its client
        rejoins (docs/protocol.md §10)."""
        def alive(room_id, sid):
            return self.server.manager.eio_sid_from_sid(
                sid, protocol.namespace_for(room_id)) is not None
        closing = self.rooms.resync(alive)
        log.warning('%d seats re-registered after a store outage', len(self.rooms.held),
                    extra={'event': 'resync'})
        for room_id, peer_id, sid in closing:
            log.info('seat lost in a store outage', extra={'event': 'resync', 'room': room_id,
                                                           'peer': peer_id})
            self.server.disconnect(sid, namespace=protocol.namespace_for(room_id))

    def _on_forwarded(self, message):
        room_id, to, payload = message['room'], message['to'], message['payload']
        namespace = protocol.namespace_for(room_id)
        if self._emit_here(namespace, to, payload):
            return
        try:  # the socket went, or moved to another worker, while the signal was on its way
            self._route(room_id, namespace, payload['from'], to, payload, message['hops'] + 1)
        except Exception:
            log.warning('forwarded signal dropped', extra={'event': 'error', 'room': room_id,
                                                           'peer': to})

    def _sweep_forever(self):
        while self.running:
            try:
                self.sweep_once()
            except Exception:  # Redis away for a moment: try again next round
                log.exception('sweep failed', extra={'event': 'error'})
            self.socketio.sleep(1.0)
