"""Engine.IO heartbeats from one task per worker, instead of a greenlet per ping.

python-engineio (pinned, requirements.txt) answers each client's PONG with
`Socket.schedule_ping`, which starts a background task that sleeps `ping_interval` and
then sends the next PING: at 8,000 sockets and a 10 s interval, 800 greenlets (or, in
threading mode, threads) born a second, each alive 10 s. Its service task then wakes
once per socket to check that the PONG came back in time, another 800 wakeups a second.
Together that was 16 % of a core with 8,000 idle sockets (bench/README.md, "Heartbeats").

Here one task per Engine.IO server keeps a timing wheel: buckets of TICK seconds, each a
list of what falls due then. A PONG files the socket's next PING `ping_interval` ahead;
sending a PING files a deadline `ping_timeout` ahead; at the deadline a socket that has
not answered is closed exactly as Engine.IO closes it (`check_ping_timeout`, reason
PING_TIMEOUT; it means to send a CLOSE packet, but its own `send` refuses a socket past
its timeout, so the WebSocket simply closes). What the client sees is unchanged: the
first PING `ping_interval` after the handshake, the next one `ping_interval` after each
PONG (late by at most SPREAD + 1 ticks, 1.1 s, so that sockets that connected together
are not pinged together for ever), and a close when a PONG is later than `ping_timeout`.
A dead client is now closed within `ping_timeout` + TICK of the unanswered PING, where
the service task took up to twice `ping_timeout`.

The service task is not started at all: its other duty, dropping closed sockets from
`server.sockets`, is done here, since every open socket always has one entry in the wheel
and is seen again after it closes.

The internals used (`Socket.schedule_ping`, `last_ping`, `check_ping_timeout`,
`start_service_task`) are checked by tests/test_heartbeat.py.
"""
import logging
import math
import time

import engineio.exceptions
import engineio.socket
from engineio import packet

log = logging.getLogger('rhystic.signaling')

TICK = 0.1  # seconds per bucket: at 8,000 sockets a bucket holds ~80 pings and ~80 deadlines
# Sockets that connected together would be pinged together ever after (a bucket held up
# to 968 entries after 8,000 connected in 33 s: 13-24 ms of work, ~25 us an entry, in one
# go). So a PING goes to the first bucket, up to SPREAD ahead, under twice the average.
# (Yielding inside a bucket instead made the wheel fall seconds behind on a busy worker.)
SPREAD = 10
_engineio_schedule_ping = engineio.socket.Socket.schedule_ping


class Heartbeat:
    """The timing wheel of one Engine.IO server (see the module docstring)."""

    def __init__(self, server):
        self.server = server
        # A bucket must lie in the future of whoever files into it: the task empties the
        # bucket of "now" while reader threads file PINGs an interval ahead, so with
        # tick <= interval no list is ever appended to after it was emptied (no lock).
        self.tick = min(TICK, server.ping_interval / 2, server.ping_timeout / 2)
        self.wheel = {}
        self.started = False

    def ping_later(self, sock):
        first = math.ceil((time.monotonic() + self.server.ping_interval) / self.tick)
        # Pings and deadlines per bucket on average, doubled (at least a few).
        most = max(16, 4 * len(self.server.sockets) * self.tick / self.server.ping_interval)
        bucket = next((b for b in range(first, first + SPREAD)
                       if len(self.wheel.get(b, ())) < most), first + SPREAD)
        self.wheel.setdefault(bucket, []).append((sock, None))
        if not self.started:
            self.started = True
            self.server.start_background_task(self._run)

    def _file(self, due, entry):
        self.wheel.setdefault(math.ceil(due / self.tick), []).append(entry)

    def _run(self):
        done = math.floor(time.monotonic() / self.tick)
        while True:
            now = math.floor(time.monotonic() / self.tick)
            for bucket in range(done + 1, now + 1):
                entries = self.wheel.pop(bucket, None)
                if entries:
                    self._fire(entries)
            done = now
            self.server.sleep(max(0.0, (done + 1) * self.tick - time.monotonic()))

    def _fire(self, entries):
        for sock, pinged_at in entries:
            try:
                if pinged_at is None:
                    self._ping(sock)
                else:
                    self._check(sock, pinged_at)
            except Exception:  # one socket's failure must not stop everyone's heartbeat
                log.exception('heartbeat failed for one socket')

    def _ping(self, sock):
        if sock.closed:
            self._forget(sock)
        elif sock.closing:
            self._file(time.monotonic() + self.server.ping_timeout, (sock, None))
        else:
            sock.last_ping = time.time()
            sock.send(packet.Packet(packet.PING))
            self._file(time.monotonic() + self.server.ping_timeout, (sock, sock.last_ping))

    def _check(self, sock, pinged_at):
        if sock.closed:
            self._forget(sock)
        elif sock.closing:
            self._file(time.monotonic() + self.server.ping_timeout, (sock, None))
        elif sock.last_ping == pinged_at:  # no PONG since (a PONG sets it to None)
            if time.time() - pinged_at <= self.server.ping_timeout:
                # Not yet by the wall clock, which Engine.IO's check reads: next tick.
                self._file(time.monotonic() + self.tick, (sock, pinged_at))
            else:
                # In a task of its own: the disconnect handler may wait on Redis, and
                # many dead at once (a network split) must not delay everyone's PING.
                self.server.start_background_task(self._close, sock)

    def _close(self, sock):
        try:
            sock.check_ping_timeout()  # closes it, as Engine.IO's service task did
        except engineio.exceptions.SocketIsClosedError:
            pass
        self._forget(sock)

    def _forget(self, sock):
        # What Engine.IO's service task did for a closed socket nobody else removed
        # (a long-polling client that went away).
        # Only a closed one: a PONG may have come in while _close waited for its turn.
        if sock.closed and self.server.sockets.get(sock.sid) is sock:
            self.server.sockets.pop(sock.sid, None)


def schedule_ping(sock):
    """Engine.IO's `Socket.schedule_ping`, filing the next PING in the server's wheel."""
    heartbeat = getattr(sock.server, 'rhystic_heartbeat', None)
    if heartbeat is None:  # an Engine.IO server we did not install on
        return _engineio_schedule_ping(sock)
    # As Engine.IO: only once the previous PING was answered (last_ping is then set).
    if sock.last_ping:
        sock.last_ping = None
        heartbeat.ping_later(sock)


def install(eio):
    """Give this Engine.IO server the timing wheel, before its first connection."""
    eio.rhystic_heartbeat = Heartbeat(eio)
    eio.start_service_task = False  # its checks and clean-up are the wheel's now
    engineio.socket.Socket.schedule_ping = schedule_ping
