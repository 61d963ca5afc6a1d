"""SQLite set up for a server that shares one database file between greenlets and workers.

A SQLite call blocks the whole gevent worker while it runs, so its cost is every
socket's latency. SQLite's defaults (a rollback journal, synchronous=FULL) make each
commit create, fsync and delete a journal file: measured here, the game table's part of
a player's join (an action, its log entry, the welcome's reads) took 1.6-1.8 ms of CPU
and blocked the worker for 3.8-4.3 ms. In WAL mode with synchronous=NORMAL a commit
appends to the write-ahead log and syncs only at checkpoints: 0.7-1.0 ms of CPU and
0.7-1.9 ms blocked (bench/README.md, "The game table's part of a join"). A crash of the
process loses nothing; a power cut may lose the last commits, never the file's
integrity (https://www.sqlite.org/wal.html). WAL also lets readers go on while one
worker writes. A file on a network filesystem cannot use WAL: SQLite then keeps its
rollback journal, and nothing here fails.

No Flask here: init_engine takes the SQLAlchemy engine.
"""
from sqlalchemy import event

PRAGMAS = ('PRAGMA journal_mode=WAL', 'PRAGMA synchronous=NORMAL')


def engine_options(uri, options):
    """The engine options for this database: SQLite gets no pool pre-ping (a file is
    never a stale connection, and the ping was a statement per checkout)."""
    if uri.startswith('sqlite'):
        return {k: v for k, v in options.items() if k != 'pool_pre_ping'}
    return options


def init_engine(engine):
    if engine.dialect.name != 'sqlite':
        return

    @event.listens_for(engine, 'connect')
    def set_pragmas(dbapi_connection, connection_record):
        cursor = dbapi_connection.cursor()
        try:
            for pragma in PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()
