"""A real OpenID Connect provider for the tests: tests/oidc/provider.js (oidc-provider from
npm, pinned in package-lock.json; ./setup.sh --test installs it) in a Node process of its
own, one issuer per port. See provider.js for what it offers."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import requests

from servers import free_port, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = shutil.which('node') or os.path.join(os.path.dirname(sys.executable), 'node')
CLIENT_ID = 'rhystic-test-client'
CLIENT_SECRET = 'rhystic-test-client-secret-' + 'x' * 16


class OidcProvider:
    """`count` issuers (http://127.0.0.1:<port>), each knowing one client whose redirect
    URIs are `redirect_uris`."""

    def __init__(self, redirect_uris, count=1):
        self.ports = [free_port() for _ in range(count)]
        self.redirect_uris = list(redirect_uris)
        self.log_path = tempfile.mktemp(prefix='rhystic-oidc-', suffix='.log')
        self.proc = None

    @property
    def issuers(self):
        return [f'http://127.0.0.1:{port}' for port in self.ports]

    def start(self, timeout=20):
        if not os.path.isdir(os.path.join(HERE, 'node_modules', 'oidc-provider')):
            raise AssertionError('oidc-provider is not installed in tests/oidc: run '
                                 './setup.sh --test (or npm ci there)')
        settings = {'ports': self.ports, 'client_id': CLIENT_ID,
                    'client_secret': CLIENT_SECRET, 'redirect_uris': self.redirect_uris}
        with open(self.log_path, 'ab') as log:
            self.proc = subprocess.Popen([NODE, os.path.join(HERE, 'provider.js'),
                                          json.dumps(settings)], cwd=HERE, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._ready, timeout, message=f'oidc-provider ({self.log_path})')
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f'oidc-provider exited {self.proc.returncode}: {self.log()}')
        return 'ready ' in self.log()

    def spoil_codes(self, action, issuer=None):
        """Spoil every outstanding authorization code: expire, consume or nonce."""
        response = requests.post(f'{issuer or self.issuers[0]}/__test/codes',
                                 params={'action': action}, timeout=5)
        response.raise_for_status()
        return response.json()['spoiled']

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def log(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()[-4000:]
        except OSError:
            return ''
