"""The deploy files: systemd units, Docker, Compose, nginx and gunicorn.conf.py.

Where the real tool is installed it judges (systemd-analyze verify, docker compose
config); the files are parsed and checked either way, so a missing tool never turns
into a skipped test. nginx.conf is only parsed.
"""
import configparser
import os
import re
import shutil
import subprocess

import yaml

from rhystic.turn import DENIED_PEER_RANGES
from servers import ROOT, VENV_BIN

DEPLOY = os.path.join(ROOT, 'deploy')
UNITS = ('rhystic-api.service', 'rhystic-api@.service', 'rhystic-turn.service')


def read(*parts):
    with open(os.path.join(*parts)) as f:
        return f.read()


def unit(name):
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=('=',))
    parser.optionxform = str
    parser.read_string(read(DEPLOY, name))
    return parser


# -- systemd ---------------------------------------------------------------------------

def test_units_log_under_the_identifiers_journalctl_t_expects():
    assert unit('rhystic-api.service')['Service']['SyslogIdentifier'] == 'rhystic-api'
    assert unit('rhystic-api@.service')['Service']['SyslogIdentifier'] == 'rhystic-api'
    assert unit('rhystic-turn.service')['Service']['SyslogIdentifier'] == 'rhystic-turn'
    for name in UNITS:
        service = unit(name)['Service']
        assert service['StandardOutput'] == 'journal' and service['StandardError'] == 'journal'


def test_the_api_unit_runs_the_procfile_process_and_stops_it_gracefully():
    for name in ('rhystic-api.service', 'rhystic-api@.service'):
        service = unit(name)['Service']
        argv = service['ExecStart'].split()
        assert argv[0].endswith('/gunicorn') and argv[-1] == 'wsgi:app'
        assert argv[argv.index('-k') + 1] == 'gevent'
        assert argv[argv.index('-c') + 1].endswith('/gunicorn.conf.py')
        assert service['User'] not in ('', 'root')
        assert service['KillMode'] == 'mixed'  # SIGTERM to gunicorn, which drains workers
        assert 5 < int(service['TimeoutStopSec']) <= 30
        assert service['Type'] == 'notify'  # gunicorn calls sd_notify(READY=1)
        assert service['ProtectSystem'] == 'strict' and service['NoNewPrivileges'] == 'yes'
        assert 'PROMETHEUS_MULTIPROC_DIR=/run/' in read(DEPLOY, name)
    assert '%i' in unit('rhystic-api@.service')['Service']['Environment']


def test_the_turn_unit_runs_coturn_with_its_own_config():
    service = unit('rhystic-turn.service')['Service']
    argv = service['ExecStart'].split()
    assert argv[0] == '/usr/bin/turnserver'
    assert argv[argv.index('-c') + 1] == '/etc/rhystic/turnserver.conf'
    assert service['User'] not in ('', 'root')
    assert 'flask --app wsgi turn-config' in read(DEPLOY, 'rhystic-turn.service')


def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    """The units as installed from this checkout: /opt/rhystic becomes the checkout."""
    for name in UNITS:
        text = read(DEPLOY, name).replace('/opt/rhystic', ROOT)
        (tmp_path / name).write_text(text)
        for key, value in re.findall(r'^(Exec\w+)=(\S+)', text, re.M):
            assert value.startswith('/'), f'{name}: {key} needs an absolute path'
    tool = shutil.which('systemd-analyze')
    if tool is None:
        return  # parsed above and in the tests before; nothing more to ask
    names = ['rhystic-api.service', 'rhystic-api@8080.service', 'rhystic-turn.service']
    result = subprocess.run([tool, 'verify', *names], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, 'SYSTEMD_UNIT_PATH': f'{tmp_path}:'})
    # Warnings (an unknown key, a value that does not parse) name the file, exit 0.
    ours = [line for line in (result.stdout + result.stderr).splitlines()
            if any(name.split('@')[0] in line for name in UNITS)]
    assert result.returncode == 0, result.stderr
    assert not ours, '\n'.join(ours)


# -- Docker and Compose ----------------------------------------------------------------

def compose(path):
    return yaml.safe_load(read(ROOT, path))


def test_compose_runs_api_coturn_redis_and_postgres_on_8080_and_3478():
    stack = compose('deploy/docker-compose.yml')
    services = stack['services']
    assert set(services) == {'api', 'coturn', 'redis', 'postgres'}
    api, coturn = services['api'], services['coturn']
    assert any(p.endswith(':8080:8080') for p in api['ports'])
    assert any(p.endswith(':3478:3478/udp') for p in coturn['ports'])
    assert any(p.endswith(':3478:3478/tcp') for p in coturn['ports'])
    build = api['build']
    assert os.path.isfile(os.path.join(DEPLOY, build['context'], build['dockerfile']))
    env = api['environment']
    assert '@postgres:5432/' in env['DATABASE_URL'] and env['REDIS_URL'].startswith('redis://redis:')
    assert env['RHYSTIC_TURN_URLS'].startswith('turn:') and env['RHYSTIC_TURN_URLS'].endswith(':3478')
    assert set(api['depends_on']) == {'postgres', 'redis'}
    assert all(dep['condition'] == 'service_healthy' for dep in api['depends_on'].values())
    assert all('healthcheck' in services[name] for name in ('redis', 'postgres'))
    # The stop grace outlasts the shutdown timeout: sockets are handed over, not cut.
    assert int(api['stop_grace_period'].rstrip('s')) > int(env['RHYSTIC_SHUTDOWN_TIMEOUT'])


def test_compose_coturn_shares_the_secret_and_the_hardening_of_turn_config():
    stack = compose('deploy/docker-compose.yml')
    env = stack['services']['api']['environment']
    flags = stack['services']['coturn']['command']
    secret = next(f.split('=', 1)[1] for f in flags if f.startswith('--static-auth-secret='))
    assert secret == env['RHYSTIC_TURN_SECRET']  # the same expression, so the same value
    realm = next(f.split('=', 1)[1] for f in flags if f.startswith('--realm='))
    assert realm == env['RHYSTIC_TURN_REALM']
    for flag in ('--use-auth-secret', '--no-cli', '--no-multicast-peers', '--fingerprint'):
        assert flag in flags
    denied = {f.split('=', 1)[1] for f in flags if f.startswith('--denied-peer-ip=')}
    assert denied <= set(DENIED_PEER_RANGES)
    assert {'10.0.0.0-10.255.255.255', '127.0.0.0-127.255.255.255',
            '192.168.0.0-192.168.255.255', '172.16.0.0-172.31.255.255', '::1'} <= denied


def test_compose_publishes_on_loopback_unless_told_otherwise():
    stack = compose('deploy/docker-compose.yml')
    for service in stack['services'].values():
        for port in service.get('ports', []):
            assert port.startswith('${RHYSTIC_BIND:-127.0.0.1}:'), port


def test_compose_quick_start_works_from_the_repository_root():
    assert compose('compose.yaml')['include'] == ['deploy/docker-compose.yml']


def test_docker_compose_config_validates_where_the_plugin_exists():
    docker = shutil.which('docker')
    plugin = docker and subprocess.run([docker, 'compose', 'version'], capture_output=True,
                                       timeout=30).returncode == 0
    if not plugin:
        # Without the plugin: the interpolations must at least be well formed.
        text = read(DEPLOY, 'docker-compose.yml')
        for expression in re.findall(r'\$\{([^}]*)\}', text):
            assert re.fullmatch(r'[A-Z_][A-Z0-9_]*(:?[-?][^${}]*)?', expression), expression
        return
    for cwd in (ROOT, DEPLOY):
        result = subprocess.run([docker, 'compose', 'config', '--quiet'], cwd=cwd,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr


def dockerfile():
    lines, current = [], ''
    for raw in read(DEPLOY, 'Dockerfile').splitlines():
        if raw.strip().startswith('#') or not raw.strip():
            continue
        current += raw.rstrip('\\').strip() + ' '
        if not raw.rstrip().endswith('\\'):
            lines.append(current.strip())
            current = ''
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_dockerfile_copies_what_exists_and_runs_the_procfile_process():
    instructions = dockerfile()
    base = next(arg for op, arg in instructions if op == 'FROM')
    version = re.match(r'python:(\d+)\.(\d+)', base)
    assert version and (int(version[1]), int(version[2])) >= (3, 11)
    for op, arg in instructions:
        if op == 'COPY':
            *sources, _target = arg.split()
            for source in sources:
                assert os.path.exists(os.path.join(ROOT, source)), f'COPY {source}: missing'
    users = [arg for op, arg in instructions if op == 'USER']
    assert users and users[-1] not in ('root', '0')
    assert ('EXPOSE', '8080') in instructions
    cmd = next(arg for op, arg in instructions if op == 'CMD')
    assert 'flask --app wsgi db upgrade' in cmd
    assert 'exec gunicorn -k gevent' in cmd and 'wsgi:app' in cmd
    assert any(op == 'HEALTHCHECK' and '/readyz' in arg for op, arg in instructions)
    ignored = read(DEPLOY, 'Dockerfile.dockerignore').split()
    assert {'.venv', '.git', 'instance', 'config.py'} <= set(ignored)


# -- nginx -------------------------------------------------------------------------------

def test_nginx_upgrades_websockets_and_keeps_sessions_sticky():
    text = re.sub(r'#.*', '', read(DEPLOY, 'nginx.conf'))
    assert text.count('{') == text.count('}')
    upstream = re.search(r'upstream rhystic \{(.*?)\}', text, re.S).group(1)
    assert re.search(r'^\s*(ip_hash|hash \$remote_addr consistent);', upstream, re.M)
    assert len(re.findall(r'^\s*server 127\.0\.0\.1:\d+', upstream, re.M)) >= 2
    socketio = re.search(r'location /socket\.io/ \{(.*?)\}', text, re.S).group(1)
    assert 'proxy_set_header Upgrade    $http_upgrade;' in socketio
    assert 'proxy_set_header Connection $connection_upgrade;' in socketio
    assert int(re.search(r'proxy_read_timeout (\d+)s;', socketio).group(1)) > 20
    assert 'proxy_http_version 1.1;' in text
    assert 'proxy_set_header X-Forwarded-Proto $scheme;' in text
    assert re.search(r'location = /metrics \{[^}]*deny all;', text)


# -- gunicorn.conf.py --------------------------------------------------------------------

def test_the_procfile_command_picks_up_gunicorn_conf_py():
    result = subprocess.run(
        [os.path.join(VENV_BIN, 'gunicorn'), '--print-config', '-k', 'gevent', '-w', '1',
         '--bind', '0.0.0.0:8080', 'wsgi:app'],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, 'RHYSTIC_SHUTDOWN_TIMEOUT': '7'})
    settings = dict(re.findall(r'^(\w+)\s+= (.*)$', result.stdout, re.M))
    assert settings['config'] == './gunicorn.conf.py'
    assert settings['graceful_timeout'] == '7'
    assert settings['control_socket_disable'] == 'True'
