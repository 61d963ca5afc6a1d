"""`python -m rhystic`: the development server, started the way the original design said."""
import json
import os
import signal
import subprocess
import sys

import requests
import websocket

from clients import PyPeer, api_room, api_user
from rhystic.__main__ import local_environment
from servers import ROOT, free_port, wait_until


def test_python_m_rhystic_migrates_and_serves_on_the_chosen_port(tmp_path):
    port = free_port()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith('RHYSTIC_') and name not in ('REDIS_URL', 'FLASK_APP')}
    env.update(PORT=str(port), DATABASE_URL=f'sqlite:///{tmp_path}/main.db',
               RHYSTIC_SECRET_KEY='main-test-' + 'k' * 32, RHYSTIC_TURN_SECRET='main-turn')
    log_path = tmp_path / 'main.log'
    with open(log_path, 'wb') as log:
        proc = subprocess.Popen([sys.executable, '-m', 'rhystic'], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f'http://127.0.0.1:{port}'

    def ready():
        assert proc.poll() is None, log_path.read_text(errors='replace')[-3000:]
        try:
            return requests.get(url + '/healthz', timeout=1).status_code == 200
        except requests.RequestException:
            return False
    try:
        wait_until(ready, 60, 0.2, message=f'python -m rhystic on {port}')
        secrets = []
        # Migrated (the API writes), signaling over both transports, TURN as setup.sh says.
        alice, bob = api_user(url, 'Alice'), api_user(url, 'Bob')
        room_id = api_room(url, alice['token'])
        peer = PyPeer(url, room_id, alice['token'])
        plain = websocket.create_connection(
            f'ws://127.0.0.1:{port}/ws?room={room_id}&token={bob["token"]}', timeout=10)
        secrets = [bob['token'], alice['token']]
        try:
            welcome = json.loads(plain.recv())
            assert welcome['type'] == 'welcome' and welcome['peers'][0]['display_name'] == 'Alice'
            assert peer.next('peer-joined')['peer_id'] == welcome['peer_id']
            assert welcome['ice_servers'][0]['urls'] == ['turn:localhost:3478']
        finally:
            plain.close()
            peer.close()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    log = log_path.read_text(errors='replace')
    assert f'Rhystic (development server) on http://localhost:{port}' in log
    assert 'Traceback' not in log, log[-3000:]
    assert not [secret for secret in secrets if secret in log], 'a token reached the log'


def test_secrets_come_from_the_environment_or_the_instance_folder_as_setup_sh_does(tmp_path):
    made = {}
    local_environment(made, instance=str(tmp_path))
    assert made['RHYSTIC_SECRET_KEY'] and made['RHYSTIC_TURN_SECRET']
    assert made['RHYSTIC_TURN_URLS'] == 'turn:localhost:3478'
    assert oct(os.stat(tmp_path / 'secrets.json').st_mode & 0o777) == '0o600'
    again = {}
    local_environment(again, instance=str(tmp_path))
    assert again == made  # kept, so sessions survive a restart
    given = {'RHYSTIC_SECRET_KEY': 'from-env', 'RHYSTIC_TURN_URLS': 'turn:t.example:3478'}
    local_environment(given, instance=str(tmp_path))
    assert given['RHYSTIC_SECRET_KEY'] == 'from-env'
    assert given['RHYSTIC_TURN_SECRET'] == made['RHYSTIC_TURN_SECRET']
    assert given['RHYSTIC_TURN_URLS'] == 'turn:t.example:3478'
