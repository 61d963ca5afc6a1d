"""Prometheus metrics, one module so that every name is in one place.

Under gunicorn, gunicorn.conf.py turns on prometheus-client's multiprocess mode
(PROMETHEUS_MULTIPROC_DIR), so /metrics adds up every worker whichever one answers.
Gauges say how they combine: connected peers sum over live workers; active rooms, read
from the shared store at scrape time, take the latest reading.
"""
from prometheus_client import Counter, Gauge

PEERS = Gauge('rhystic_connected_peers', 'Peers with a live Socket.IO connection',
              multiprocess_mode='livesum')
ROOMS = Gauge('rhystic_active_rooms', 'Rooms with at least one seat',
              multiprocess_mode='livemostrecent')
JOINS = Counter('rhystic_joins_total', 'Peers admitted to a room')
RESUMES = Counter('rhystic_resumes_total', 'Seats taken back after a reconnect')
REFUSALS = Counter('rhystic_refusals_total', 'Connections refused, by code', ['code'])
SIGNALS = Counter('rhystic_signals_relayed_total', 'Signals relayed, by type', ['type'])
GRACE_EXPIRIES = Counter('rhystic_grace_expiries_total', 'Seats given up after the grace period')
RATE_LIMITED = Counter('rhystic_rate_limited_total', 'Socket.IO messages refused for rate')
TURN_ISSUED = Counter('rhystic_turn_credentials_total', 'TURN credentials issued')
HTTP = Counter('rhystic_http_requests_total', 'HTTP responses, by status', ['status'])


class PeerSessions(dict):
    """A worker's sockets by sid, keeping the connected-peers gauge at its size.

    Set on every change rather than at scrape time: with several workers, the one that
    answers a scrape cannot see the others' sockets.
    """

    def __setitem__(self, sid, session):
        super().__setitem__(sid, session)
        PEERS.set(len(self))

    def pop(self, sid, *default):
        session = super().pop(sid, *default)
        PEERS.set(len(self))
        return session
