"""Prometheus metrics. With several workers, set PROMETHEUS_MULTIPROC_DIR (see README)."""
from prometheus_client import Counter, Gauge

PEERS = Gauge('rhystic_connected_peers', 'Peers with a live socket on this worker',
              multiprocess_mode='livesum')
ROOMS = Gauge('rhystic_active_rooms', 'Rooms with at least one seat', multiprocess_mode='max')
JOINS = Counter('rhystic_joins_total', 'Peers admitted to a room')
RESUMES = Counter('rhystic_resumes_total', 'Seats taken back after a reconnect')
REFUSALS = Counter('rhystic_refusals_total', 'Connections refused, by code', ['code'])
SIGNALS = Counter('rhystic_signals_relayed_total', 'Signals relayed, by type', ['type'])
GRACE_EXPIRIES = Counter('rhystic_grace_expiries_total', 'Seats given up after the grace period')
RATE_LIMITED = Counter('rhystic_rate_limited_total', 'Socket.IO messages refused for rate')
TURN_ISSUED = Counter('rhystic_turn_credentials_total', 'TURN credentials issued')
HTTP = Counter('rhystic_http_requests_total', 'HTTP responses, by status', ['status'])
