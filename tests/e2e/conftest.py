"""End-to-end fixtures: a real gunicorn server, a real coturn, headless Chromium.

Every player gets a browser context of their own (own cookies, own camera). Tests wait
on conditions in the page, never on sleeps.
"""
import json
import os
import secrets
import shlex
import shutil

import pytest

from servers import ROOT, Coturn, Server, migrate

pytest.importorskip('playwright')
from playwright.sync_api import sync_playwright  # noqa: E402

CHROMIUM = os.environ.get('RHYSTIC_CHROMIUM', '/usr/bin/chromium')
CHROMIUM_ARGS = [
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    '--allow-loopback-in-peer-connection',
    '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run',
    # Eight players share one machine: no tab may be throttled as "in the background".
    '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
]
ARTIFACTS = os.path.join(ROOT, 'test-artifacts')
TURN_SECRET = 'e2e-turn-' + secrets.token_hex(8)

# Wraps RTCPeerConnection so a test can read getStats() and the data channels
# (pc.__channels) independently of the app.
RECORD_PEER_CONNECTIONS = """
(() => {
  const Original = window.RTCPeerConnection;
  if (!Original || window.__pcs) return;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Original {
    constructor(...args) { super(...args); this.__channels = []; window.__pcs.push(this); }
    createDataChannel(...args) {
      const channel = super.createDataChannel(...args);
      this.__channels.push(channel);
      return channel;
    }
  };
})();
"""

# Diagnostics: a timeline of every peer connection (descriptions, states, tracks), to
# print when a test fails. Session ids (the SDP o= line) pair a page's connection with
# the other page's.
TRACE_PEER_CONNECTIONS = """
(() => {
  const Original = window.RTCPeerConnection;
  if (!Original || window.__pcTrace) return;
  window.__pcTrace = [];
  const sessionOf = (sdp) => ((sdp || '').match(/^o=\\S+ (\\d+)/m) || [])[1];
  window.RTCPeerConnection = class extends Original {
    constructor(...args) {
      super(...args);
      const log = [];
      window.__pcTrace.push(log);
      const note = (text) => log.push(`${Date.now()} ${text}`);
      this.__note = note;
      for (const event of ['signalingstatechange', 'iceconnectionstatechange',
                           'connectionstatechange', 'negotiationneeded']) {
        this.addEventListener(event, () => note(`${event} ${this.signalingState}/`
          + `${this.iceConnectionState}/${this.connectionState}`));
      }
      this.addEventListener('track', ({ track }) => note(`track ${track.kind}`));
      this.addEventListener('icegatheringstatechange',
        () => note(`gathering ${this.iceGatheringState}`));
      this.addEventListener('icecandidateerror',
        ({ errorCode, url }) => note(`candidate error ${errorCode} ${url}`));
    }
    async setLocalDescription(...args) {
      try {
        await super.setLocalDescription(...args);
        this.__note(`SLD ${this.localDescription.type} ${sessionOf(this.localDescription.sdp)}`);
      } catch (e) { this.__note(`SLD failed ${e}`); throw e; }
    }
    async setRemoteDescription(d) {
      try {
        await super.setRemoteDescription(d);
        this.__note(`SRD ${d.type} ${sessionOf(d.sdp)}`);
      } catch (e) { this.__note(`SRD ${d.type} failed ${e}`); throw e; }
    }
    restartIce() { this.__note('restartIce'); return super.restartIce(); }
    close() { this.__note('close'); return super.close(); }
  };
})();
"""

# A canvas-drawn camera in one solid colour, with a small moving square so that the
# picture changes over time.
COLOUR_CAMERA = """
(() => {
  const colour = %s;
  const devices = navigator.mediaDevices;
  const original = devices.getUserMedia.bind(devices);
  devices.getUserMedia = async (constraints) => {
    const stream = new MediaStream();
    if (constraints && constraints.audio) {
      (await original({audio: constraints.audio})).getAudioTracks().forEach((t) => stream.addTrack(t));
    }
    if (constraints && constraints.video) {
      const canvas = document.createElement('canvas');
      canvas.width = 160; canvas.height = 120;
      const ctx = canvas.getContext('2d');
      let tick = 0;
      const draw = () => {
        ctx.fillStyle = colour; ctx.fillRect(0, 0, 160, 120);
        ctx.fillStyle = '#ffffff'; ctx.fillRect((tick * 9) %% 150, 55, 10, 10);
        tick += 1;
      };
      draw();
      setInterval(draw, 100);
      canvas.captureStream(10).getVideoTracks().forEach((t) => stream.addTrack(t));
    }
    return stream;
  };
})();
"""


# A second camera for switching mid-call. Chromium's extra fake devices are not usable
# here: the second one delivers Y16 (depth) frames, which WebRTC does not send.
SECOND_CAMERA = """
(() => {
  const devices = navigator.mediaDevices;
  const enumerate = devices.enumerateDevices.bind(devices);
  const original = devices.getUserMedia.bind(devices);
  const ID = 'synthetic-camera';
  devices.enumerateDevices = async () => [...await enumerate(),
    {deviceId: ID, groupId: ID, kind: 'videoinput', label: 'Synthetic camera 2',
     toJSON() { return this; }}];
  devices.getUserMedia = async (constraints) => {
    const wanted = constraints && constraints.video && constraints.video.deviceId;
    if (!wanted || (wanted.exact || wanted) !== ID) return original(constraints);
    const canvas = document.createElement('canvas');
    canvas.width = 160; canvas.height = 120;
    const ctx = canvas.getContext('2d');
    let tick = 0;
    setInterval(() => {
      ctx.fillStyle = '#284'; ctx.fillRect(0, 0, 160, 120);
      ctx.fillStyle = '#fff'; ctx.fillRect((tick++ * 7) % 150, 20, 10, 80);
    }, 100);
    return canvas.captureStream(10);
  };
})();
"""


# No microphone: eight players on two cores spend their CPU on the 56 video links.
NO_MICROPHONE = """
(() => {
  const devices = navigator.mediaDevices;
  const original = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (constraints) => {
    if (constraints && constraints.video) return original({...constraints, audio: false});
    return original(constraints);
  };
})();
"""


def server_env(tmp_dir, coturn_port, **extra):
    env = {
        'RHYSTIC_SECRET_KEY': 'e2e-secret-' + secrets.token_hex(16),
        'RHYSTIC_TURN_SECRET': TURN_SECRET,
        'RHYSTIC_TURN_URLS': f'turn:127.0.0.1:{coturn_port}',
        'DATABASE_URL': f'sqlite:///{tmp_dir}/e2e.db',
        'REDIS_URL': '',
        'RHYSTIC_CAPTURE_WIDTH': '160',
        'RHYSTIC_CAPTURE_HEIGHT': '120',
        'RHYSTIC_CAPTURE_FPS': '10',
        'RHYSTIC_RATELIMIT_USERS': '1000 per minute',
        'RHYSTIC_RATELIMIT_ROOMS': '1000 per minute',
        'RHYSTIC_RATELIMIT_TURN': '1000 per minute',
        'RHYSTIC_RATELIMIT_JOIN_FAILURES': '1000 per minute',
        'RHYSTIC_RATELIMIT_LOBBY': '1000 per minute',
        'RHYSTIC_LOG_LEVEL': os.environ.get('E2E_SERVER_LOG_LEVEL', 'WARNING'),
    }
    env.update(extra)
    return env


@pytest.fixture(scope='session')
def coturn():
    turn = Coturn(TURN_SECRET).start()
    yield turn
    turn.stop()


@pytest.fixture(scope='session')
def start_server(tmp_path_factory, coturn):
    """Start a Rhystic server; extra env overrides the defaults. Stopped at the end."""
    started = []

    def start(**extra):
        tmp_dir = tmp_path_factory.mktemp('e2e')
        env = server_env(tmp_dir, coturn.port, **extra)
        migrate(env)
        server = Server(env, log_path=str(tmp_dir / 'server.log')).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope='session')
def server(start_server):
    """The default server: ICE policy 'all', working TURN."""
    return start_server()


def chromium_without_realtime_threads(tmp_dir):
    """Chromium as an ordinary user runs it. As root, Chromium's audio threads take
    real-time priority (SCHED_RR): with eight players on two cores they then starve
    every other thread, the WebRTC network threads included, and round trips on
    loopback grow to a minute (issue 9). Without CAP_SYS_NICE they stay ordinary
    threads, as on a player's own computer."""
    setpriv = shutil.which('setpriv')
    if os.geteuid() != 0 or setpriv is None:
        return CHROMIUM
    path = os.path.join(tmp_dir, 'chromium')
    with open(path, 'w') as f:
        f.write(f'#!/bin/sh\nexec {shlex.quote(setpriv)} --bounding-set=-sys_nice '
                f'{shlex.quote(CHROMIUM)} "$@"\n')
    os.chmod(path, 0o755)
    return path


@pytest.fixture(scope='session')
def playwright_driver():
    """The one Playwright of the session (a second one in the same process fails)."""
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope='session')
def launch_chromium(playwright_driver, tmp_path_factory):
    """launch_chromium(extra_args=()) -> a Browser: Chromium as the tests run it, with
    launch flags of its own (a camera from a .y4m file is a launch flag)."""
    executable = chromium_without_realtime_threads(str(tmp_path_factory.mktemp('chromium')))

    def launch(extra_args=()):
        return playwright_driver.chromium.launch(executable_path=executable,
                                                 args=CHROMIUM_ARGS + list(extra_args))
    return launch


@pytest.fixture(scope='session')
def browser(launch_chromium):
    browser = launch_chromium()
    yield browser
    browser.close()


@pytest.fixture
def player(browser):
    """Open a new player: player(base_url, colour=None) -> a Page in its own context;
    `in_browser` opens it in another Browser (one launched with other flags)."""
    contexts = []

    def open_player(colour=None, viewport=None, second_camera=False, microphone=True,
                    in_browser=None):
        context = (in_browser or browser).new_context(
            viewport=viewport or {'width': 960, 'height': 640})
        context.add_init_script(TRACE_PEER_CONNECTIONS)
        context.add_init_script(RECORD_PEER_CONNECTIONS)
        if not microphone:
            context.add_init_script(NO_MICROPHONE)
        if second_camera:
            context.add_init_script(SECOND_CAMERA)
        if colour:
            context.add_init_script(COLOUR_CAMERA % json.dumps(colour))
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20000)
        log = []
        page.on('console', lambda message: log.append(f'{message.type}: {message.text}'))
        page.on('pageerror', lambda error: log.append(f'pageerror: {error}'))
        page.console_log = log
        return page

    yield open_player
    for context in contexts:
        try:
            context.close()
        except Exception:  # the browser may be gone already
            pass


@pytest.fixture(scope='session')
def artifacts():
    os.makedirs(ARTIFACTS, exist_ok=True)
    return ARTIFACTS
