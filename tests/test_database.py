"""SQLite as the server's database (rhystic/database.py): WAL, synchronous=NORMAL, no
pool pre-ping; PostgreSQL untouched."""
import sqlite3

from sqlalchemy import text

from rhystic import create_app
from rhystic.database import engine_options
from rhystic.extensions import db


def pragmas(app):
    with app.app_context():
        with db.engine.connect() as conn:
            return (conn.execute(text('PRAGMA journal_mode')).scalar(),
                    conn.execute(text('PRAGMA synchronous')).scalar())


def test_a_sqlite_file_is_written_ahead_with_normal_sync(tmp_path):
    app = create_app({'SQLALCHEMY_DATABASE_URI': f'sqlite:///{tmp_path}/r.db',
                      'SECRET_KEY': 'x' * 64, 'ASYNC_MODE': 'threading'})
    assert pragmas(app) == ('wal', 1)  # 1 is NORMAL
    assert 'pool_pre_ping' not in app.config['SQLALCHEMY_ENGINE_OPTIONS']
    assert app.config['SQLALCHEMY_ENGINE_OPTIONS']['hide_parameters'] is True
    # The mode belongs to the file: any other connection sees it too.
    with sqlite3.connect(tmp_path / 'r.db') as other:
        assert other.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'


def test_other_databases_keep_their_options():
    options = {'pool_pre_ping': True, 'hide_parameters': True}
    assert engine_options('postgresql+psycopg://h/test', options) == options
    assert engine_options('sqlite:///x.db', options) == {'hide_parameters': True}
