"""Configuration: the layers, the deploy names, and refusing to start without secrets."""
import os
import shutil
import stat
import subprocess
import sys

import pytest
from flask import Flask

from rhystic import config as config_module
from rhystic.config import ConfigError
from servers import ROOT, VENV_BIN, free_port

DEPLOY_NAMES = ('DATABASE_URL', 'REDIS_URL', 'PORT')


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No RHYSTIC_* or deploy names from the machine, and no instance config.py."""
    for name in list(os.environ):
        if name.startswith('RHYSTIC_') or name in DEPLOY_NAMES:
            monkeypatch.delenv(name)
    # load() reads <project root>/config.py; point it at an empty folder of our own.
    monkeypatch.setattr(config_module, 'PROJECT_ROOT', str(tmp_path))


def load(tmp_path, **overrides):
    app = Flask('rhystic_test', instance_path=str(tmp_path / 'instance'))
    config_module.load(app, overrides or None)
    return app.config


def clean_subprocess_env(tmp_path, **env):
    return {'PATH': os.environ['PATH'], 'HOME': str(tmp_path),
            'DATABASE_URL': f'sqlite:///{tmp_path}/start.db', **env}


# --- refusing to start ---------------------------------------------------------------

def assert_one_line_naming(stderr, variable):
    assert 'Traceback' not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert variable in lines[0]


def test_import_wsgi_without_secret_key_fails_with_one_line(tmp_path):
    done = subprocess.run([sys.executable, '-c', 'import wsgi'], cwd=ROOT, capture_output=True,
                          text=True, env=clean_subprocess_env(tmp_path), timeout=60)
    assert done.returncode != 0
    assert_one_line_naming(done.stderr, 'RHYSTIC_SECRET_KEY')


def test_import_wsgi_with_turn_urls_but_no_turn_secret_fails(tmp_path):
    env = clean_subprocess_env(tmp_path, RHYSTIC_SECRET_KEY='k' * 32,
                               RHYSTIC_TURN_URLS='turn:turn.example.org:3478')
    done = subprocess.run([sys.executable, '-c', 'import wsgi'], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode != 0
    assert_one_line_naming(done.stderr, 'RHYSTIC_TURN_SECRET')


def test_import_wsgi_with_the_secrets_starts(tmp_path):
    env = clean_subprocess_env(tmp_path, RHYSTIC_SECRET_KEY='k' * 32)
    done = subprocess.run([sys.executable, '-c', 'import wsgi; print(wsgi.app.name)'], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == 'rhystic'


def test_gunicorn_without_secret_key_stops_with_one_line(tmp_path):
    """gunicorn must halt (not respawn workers for ever) and say why in one line."""
    done = subprocess.run(
        [os.path.join(VENV_BIN, 'gunicorn'), '-k', 'gevent', '-w', '1',
         '--bind', f'127.0.0.1:{free_port()}', 'wsgi:app'],
        cwd=ROOT, capture_output=True, text=True, env=clean_subprocess_env(tmp_path),
        timeout=60)
    assert done.returncode != 0
    # gunicorn's own log lines start with a [timestamp]; ours is the only other line.
    ours = [line for line in done.stderr.splitlines() if line and not line.startswith('[')]
    assert_one_line_naming('\n'.join(ours), 'RHYSTIC_SECRET_KEY')
    assert done.stderr.count('Booting worker') == 1, done.stderr


def test_missing_secret_in_process_raises_config_error(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load(tmp_path)
    assert 'RHYSTIC_SECRET_KEY' in str(refused.value)
    assert '\n' not in str(refused.value)
    # Without TURN_URLS the TURN secret is not needed: TURN is simply off.
    assert load(tmp_path, SECRET_KEY='s')['TURN_SECRET'] is None


# --- debug: secrets generated once and kept -------------------------------------------

def test_debug_generates_secrets_once_and_keeps_them(tmp_path, monkeypatch):
    monkeypatch.setenv('RHYSTIC_DEBUG', 'true')
    first = load(tmp_path)
    assert first['DEBUG'] is True
    secret_key, turn_secret = first['SECRET_KEY'], first['TURN_SECRET']
    assert len(secret_key) >= 32 and len(turn_secret) >= 32 and secret_key != turn_secret
    kept = tmp_path / 'instance' / 'secrets.json'
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    before = kept.read_text()

    second = load(tmp_path)
    assert (second['SECRET_KEY'], second['TURN_SECRET']) == (secret_key, turn_secret)
    assert kept.read_text() == before

    # An explicit secret still wins over the kept one.
    monkeypatch.setenv('RHYSTIC_SECRET_KEY', 'from-the-environment')
    assert load(tmp_path)['SECRET_KEY'] == 'from-the-environment'

    # A new instance folder gets new secrets.
    other = tmp_path / 'elsewhere'
    other.mkdir()
    assert load(other)['SECRET_KEY'] != secret_key


def test_debug_repairs_a_damaged_secrets_file(tmp_path):
    (tmp_path / 'instance').mkdir()
    (tmp_path / 'instance' / 'secrets.json').write_text('{"SECRET_KEY": ""')
    config = load(tmp_path, DEBUG=True)
    assert config['SECRET_KEY'] and config['TURN_SECRET']
    assert load(tmp_path, DEBUG=True)['SECRET_KEY'] == config['SECRET_KEY']


def test_secrets_from_the_environment_are_kept_verbatim(tmp_path, monkeypatch):
    # Both would parse as JSON numbers; a secret must stay the exact string given.
    monkeypatch.setenv('RHYSTIC_SECRET_KEY', '12345678901234567890123456789012')
    monkeypatch.setenv('RHYSTIC_TURN_SECRET', '1234e5')
    config = load(tmp_path)
    assert config['SECRET_KEY'] == '12345678901234567890123456789012'
    assert config['TURN_SECRET'] == '1234e5'


# --- layers and deploy names ------------------------------------------------------------

def test_defaults(tmp_path):
    config = load(tmp_path, SECRET_KEY='s')
    assert config['MAX_PEERS'] == 8
    assert config['TURN_TTL'] == 3600
    assert config['TURN_URLS'] == [] and config['STUN_URLS'] == []
    assert config['PORT'] == 8080
    assert config['ASYNC_MODE'] == 'threading'
    assert config['MAX_CONTENT_LENGTH'] == 64 * 1024
    assert config['RATELIMIT_STORAGE_URI'] == 'memory://'
    assert config['SQLALCHEMY_DATABASE_URI'] == \
        f'sqlite:///{tmp_path / "instance" / "rhystic.db"}'


def test_layers_defaults_then_config_py_then_environment_then_overrides(tmp_path, monkeypatch):
    (tmp_path / 'config.py').write_text(
        "SECRET_KEY = 'from-config-py'\nTURN_REALM = 'from-config-py'\n"
        "TURN_TTL = 600\nGRACE_SECONDS = 5\n")
    config = load(tmp_path)
    assert config['SECRET_KEY'] == 'from-config-py'
    assert (config['TURN_REALM'], config['TURN_TTL']) == ('from-config-py', 600)

    monkeypatch.setenv('RHYSTIC_TURN_REALM', 'from-env')
    monkeypatch.setenv('RHYSTIC_TURN_TTL', '120')
    config = load(tmp_path)
    assert (config['TURN_REALM'], config['TURN_TTL']) == ('from-env', 120)
    assert config['GRACE_SECONDS'] == 5.0

    config = load(tmp_path, TURN_REALM='from-overrides')
    assert config['TURN_REALM'] == 'from-overrides'


def test_config_example_is_a_valid_config_py(tmp_path):
    shutil.copy(os.path.join(ROOT, 'config.example.py'), tmp_path / 'config.py')
    config = load(tmp_path, SECRET_KEY='s', TURN_SECRET='t')
    for key in dir(config_module.Defaults):
        if key.isupper():
            assert key in config
    example = {}
    exec(compile((tmp_path / 'config.py').read_text(), 'config.example.py', 'exec'), example)
    documented = {key for key in example if key.isupper()}
    expected = {key for key in dir(config_module.Defaults) if key.isupper()}
    assert expected - documented == set(), 'keys missing from config.example.py'
    assert documented - expected == set(), 'keys in config.example.py the app does not have'


@pytest.mark.parametrize('given', ['postgres://', 'postgresql://', 'postgresql+psycopg://'])
def test_database_url_every_postgres_spelling(tmp_path, monkeypatch, pg_database, given):
    # pg_database is postgresql://user@host:port/name: respell it as a deploy would.
    url = given + pg_database.split('://', 1)[1]
    monkeypatch.setenv('DATABASE_URL', url)
    monkeypatch.setenv('RHYSTIC_SECRET_KEY', 's')
    from rhystic import create_app
    from rhystic.extensions import db
    app = create_app({'TESTING': True})
    assert app.config['SQLALCHEMY_DATABASE_URI'] == \
        'postgresql+psycopg://' + pg_database.split('://', 1)[1]
    with app.app_context():
        assert db.session.execute(db.text('SELECT current_database()')).scalar() == \
            pg_database.rsplit('/', 1)[1]
        db.engine.dispose()


def test_database_url_sqlite_and_over_config_py(tmp_path, monkeypatch):
    (tmp_path / 'config.py').write_text("SQLALCHEMY_DATABASE_URI = 'sqlite:///ignored.db'\n")
    monkeypatch.setenv('DATABASE_URL', f'sqlite:///{tmp_path}/deploy.db')
    assert load(tmp_path, SECRET_KEY='s')['SQLALCHEMY_DATABASE_URI'] == \
        f'sqlite:///{tmp_path}/deploy.db'


def test_redis_url_and_port(tmp_path, monkeypatch):
    monkeypatch.setenv('REDIS_URL', 'redis://127.0.0.1:6379/3')
    monkeypatch.setenv('PORT', '5001')
    config = load(tmp_path, SECRET_KEY='s')
    assert config['REDIS_URL'] == 'redis://127.0.0.1:6379/3'
    # Redis then carries the rate limits and the Socket.IO message queue too.
    assert config['RATELIMIT_STORAGE_URI'] == 'redis://127.0.0.1:6379/3'
    assert config['MESSAGE_QUEUE'] == 'redis://127.0.0.1:6379/3'
    assert config['PORT'] == 5001


def test_turn_and_stun_urls_are_comma_lists(tmp_path, monkeypatch):
    monkeypatch.setenv('RHYSTIC_TURN_URLS',
                       'turn:turn.example.org:3478, turns:turn.example.org:5349')
    monkeypatch.setenv('RHYSTIC_STUN_URLS', 'stun:stun.example.org:3478')
    monkeypatch.setenv('RHYSTIC_SECRET_KEY', 's')
    monkeypatch.setenv('RHYSTIC_TURN_SECRET', 't')
    config = load(tmp_path)
    assert config['TURN_URLS'] == ['turn:turn.example.org:3478', 'turns:turn.example.org:5349']
    assert config['STUN_URLS'] == ['stun:stun.example.org:3478']


@pytest.mark.parametrize('value,expected', [('2', 2), ('8', 8), ('5', 5)])
def test_max_peers_within_bounds(tmp_path, monkeypatch, value, expected):
    monkeypatch.setenv('RHYSTIC_MAX_PEERS', value)
    assert load(tmp_path, SECRET_KEY='s')['MAX_PEERS'] == expected


@pytest.mark.parametrize('value', ['1', '9', '0', '-4'])
def test_max_peers_out_of_bounds_refused(tmp_path, monkeypatch, value):
    monkeypatch.setenv('RHYSTIC_MAX_PEERS', value)
    with pytest.raises(ConfigError) as refused:
        load(tmp_path, SECRET_KEY='s')
    assert 'RHYSTIC_MAX_PEERS' in str(refused.value)


def test_ice_transport_policy(tmp_path, monkeypatch):
    monkeypatch.setenv('RHYSTIC_ICE_TRANSPORT_POLICY', 'relay')
    assert load(tmp_path, SECRET_KEY='s')['ICE_TRANSPORT_POLICY'] == 'relay'
    monkeypatch.setenv('RHYSTIC_ICE_TRANSPORT_POLICY', 'sometimes')
    with pytest.raises(ConfigError) as refused:
        load(tmp_path, SECRET_KEY='s')
    assert 'RHYSTIC_ICE_TRANSPORT_POLICY' in str(refused.value)


def test_proxy_fix_makes_cookies_secure(tmp_path, monkeypatch):
    monkeypatch.setenv('RHYSTIC_PROXY_FIX', '1')
    config = load(tmp_path, SECRET_KEY='s')
    assert config['PROXY_FIX'] == 1
    assert config['SESSION_COOKIE_SECURE'] and config['REMEMBER_COOKIE_SECURE']


@pytest.mark.parametrize('given,kept', [
    ('https://play.example.org', 'https://play.example.org'),
    ('https://play.example.org/', 'https://play.example.org'),
    ('http://localhost:8080', 'http://localhost:8080'), (None, None), ('', None)])
def test_public_url_is_an_origin(tmp_path, monkeypatch, given, kept):
    if given is not None:
        monkeypatch.setenv('RHYSTIC_PUBLIC_URL', given)
    assert load(tmp_path, SECRET_KEY='s')['PUBLIC_URL'] == kept


@pytest.mark.parametrize('given', ['play.example.org', 'ftp://play.example.org', 'https://',
                                   'https://play.example.org/rhystic', 'https://a.org/?x=1',
                                   'https://user:pw@play.example.org', '8080'])
def test_public_url_that_is_not_an_origin_is_refused(tmp_path, monkeypatch, given):
    monkeypatch.setenv('RHYSTIC_PUBLIC_URL', given)
    with pytest.raises(ConfigError) as refused:
        load(tmp_path, SECRET_KEY='s')
    assert 'RHYSTIC_PUBLIC_URL' in str(refused.value) and '\n' not in str(refused.value)


def test_no_eventlet():
    requirements = open(os.path.join(ROOT, 'requirements.txt')).read().lower()
    assert 'eventlet' not in requirements
    assert 'gevent' in requirements
