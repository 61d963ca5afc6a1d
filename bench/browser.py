"""The browser benchmark: Join to first remote frame, and a full mesh coming up.

    python -m bench.browser [--json FILE] [--trials 3] [--players 2] [--mesh-players 8]

Headless Chromium (/usr/bin/chromium, or RHYSTIC_CHROMIUM) with fake camera and
microphone, one browser context per player, against Rhystic under gunicorn gevent
(1 worker). Capture is 160x120 at 10 fps, as in the end-to-end tests, so that eight
players fit on two cores. Host candidates on loopback: no TURN.

1. first remote frame: one player waits in the call; another clicks Join; the time
   from the click to the first decoded frame of the other's video, in the joiner's
   page (both on the page's own clock), over --trials fresh rooms;
2. full mesh: --mesh-players click Join at the same instant; the time until every
   page shows every other player's video live (n x (n-1) links);
3. readable cards (issue 12, --cards): four players, Alice's camera a 1920x1080 .y4m
   at 10 fps (tests/y4m.py, --use-file-for-fake-video-capture, a Chromium of its own);
   each player's total upload (getStats bytesSent, all links) over --window seconds with
   nobody spotlighting and with Bob spotlighting Alice; then --clicks snapshots of the
   card, click to image drawn in the zoom panel (performance.now() in Bob's page),
   paced at 2.5 a second to stay under the sender's limit of 3.
"""
import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))
from servers import Server, migrate  # noqa: E402

from e2e.helpers import create_room, join_together, wait_all_live  # noqa: E402
from servers import wait_until  # noqa: E402
from y4m import QR_TEXT, write_y4m  # noqa: E402

from e2e import cards  # noqa: E402

CHROMIUM = os.environ.get('RHYSTIC_CHROMIUM', '/usr/bin/chromium')
CHROMIUM_ARGS = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
                 '--allow-loopback-in-peer-connection', '--no-sandbox', '--disable-gpu',
                 '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
                 '--disable-backgrounding-occluded-windows']
NAMES = ['Alice', 'Bob', 'Carol', 'Dave', 'Erin', 'Frank', 'Grace', 'Heidi']
PREVIEW_READY = "() => document.getElementById('preview').srcObject"

# In the joiner's page: click Join and note the moment the first remote video has a
# decoded frame (Date.now() for both ends of the interval).
CLICK_AND_WATCH = """() => {
  window.__firstFrameAt = null;
  window.__clickedAt = Date.now();
  const timer = setInterval(() => {
    for (const video of document.querySelectorAll('#grid .tile.remote video')) {
      if (video.videoWidth && video.getVideoPlaybackQuality().totalVideoFrames > 0) {
        window.__firstFrameAt = Date.now();
        clearInterval(timer);
        return;
      }
    }
  }, 5);
  document.getElementById('join-button').click();
}"""


def start_server(tmp, **extra):
    env = {
        'RHYSTIC_SECRET_KEY': secrets.token_hex(32), 'DATABASE_URL': f'sqlite:///{tmp}/b.db',
        'REDIS_URL': '', 'RHYSTIC_CAPTURE_WIDTH': '160', 'RHYSTIC_CAPTURE_HEIGHT': '120',
        'RHYSTIC_CAPTURE_FPS': '10', 'RHYSTIC_LOG_LEVEL': 'WARNING',
        'RHYSTIC_RATELIMIT_USERS': '100000 per minute',
        'RHYSTIC_RATELIMIT_ROOMS': '100000 per minute',
        'RHYSTIC_RATELIMIT_JOIN_FAILURES': '100000 per minute',
        **extra,
    }
    migrate(env)
    return Server(env, log_path=os.path.join(tmp, 'server.log')).start()


def first_frame(browser, url, players, trials, say):
    times = []
    for trial in range(trials):
        contexts = [browser.new_context(viewport={'width': 960, 'height': 640})
                    for _ in range(players)]
        try:
            pages = [c.new_page() for c in contexts]
            invite = create_room(pages[0], url, NAMES[0])  # the host waits in the call
            for name, page in zip(NAMES[1:players - 1], pages[1:-1]):
                page.goto(invite)
                page.fill('#name-input', name)
                page.click('#join-button')
                page.wait_for_selector('#room-app[data-view="call"]')
            joiner = pages[-1]
            joiner.goto(invite)
            joiner.fill('#name-input', NAMES[players - 1])
            joiner.wait_for_function(PREVIEW_READY)
            joiner.evaluate(CLICK_AND_WATCH)
            joiner.wait_for_function('() => window.__firstFrameAt', timeout=30000, polling=50)
            ms = joiner.evaluate('() => window.__firstFrameAt - window.__clickedAt')
            times.append(ms)
            say(f'first remote frame, trial {trial + 1}: {ms} ms')
        finally:
            for c in contexts:
                c.close()
    return {'players': players, 'trials_ms': times, 'median_ms': statistics.median(times),
            'max_ms': max(times), 'ok': len(times) == trials}


def mesh(browser, url, players, say):
    contexts = [browser.new_context(viewport={'width': 960, 'height': 640})
                for _ in range(players)]
    try:
        pages = {name: c.new_page() for name, c in zip(NAMES, contexts)}
        names = list(pages)
        invite = create_room(pages[names[0]], url, names[0], join=False)
        for name in names[1:]:
            pages[name].goto(invite)
            pages[name].fill('#name-input', name)
        for page in pages.values():
            page.wait_for_function(PREVIEW_READY)
        clicked_at = join_together(list(pages.values()))
        all_live_at = wait_all_live(pages, names, timeout=60000)
        ms = all_live_at - clicked_at
        say(f'{players} players: all {players * (players - 1)} links live after {ms} ms')
        return {'players': players, 'links_live': players * (players - 1), 'all_live_ms': ms}
    finally:
        for c in contexts:
            c.close()


# Every page's total upload so far: bytes sent on all its links (media and data).
BYTES_SENT = """async () => {
  let bytes = 0;
  for (const pc of window.__pcs || []) {
    if (pc.signalingState === 'closed') continue;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp') bytes += s.bytesSent || 0;
    });
  }
  return {bytes, at: performance.now()};
}"""


# Every page's caps on what it sends (bandwidth.js), summed over its links, in kbit/s.
CAPS_KBPS = """() => Math.round((window.__pcs || []).filter((pc) => pc.signalingState !== 'closed')
  .flatMap((pc) => pc.getSenders()).filter((s) => s.track && s.track.kind === 'video')
  .reduce((sum, s) => sum + ((s.getParameters().encodings || [])[0]?.maxBitrate || 0), 0) / 1000)"""


def browser_cpu_seconds(marker):
    """CPU time (user + system, s) of the Chromium whose command line has `marker`, and
    of all its child processes (renderer, GPU, network, utility)."""
    procs = {}
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                cmdline = f.read().decode(errors='replace')
        except OSError:
            continue
        procs[int(pid)] = (int(fields[1]), int(fields[11]) + int(fields[12]), cmdline)
    tree = {pid for pid, (_, _, cmd) in procs.items() if marker in cmd}
    grew = True
    while grew:
        children = {pid for pid, (ppid, _, _) in procs.items() if ppid in tree} - tree
        tree |= children
        grew = bool(children)
    return sum(procs[pid][1] for pid in tree) / os.sysconf('SC_CLK_TCK')


def caps_kbps(pages):
    return {name: page.evaluate(CAPS_KBPS) for name, page in pages.items()}


def upload_kbps(pages, seconds, marker):
    """Each page's upload rate over the next `seconds`, in kbit/s, and the CPU share
    (% of one core) of the camera's Chromium meanwhile."""
    before = {name: page.evaluate(BYTES_SENT) for name, page in pages.items()}
    cpu, started = browser_cpu_seconds(marker), time.monotonic()
    time.sleep(seconds)  # a measuring window, not a wait for a condition
    cpu = (browser_cpu_seconds(marker) - cpu) / (time.monotonic() - started)
    after = {name: page.evaluate(BYTES_SENT) for name, page in pages.items()}
    return {name: round((after[name]['bytes'] - before[name]['bytes']) * 8
                        / (after[name]['at'] - before[name]['at'])) for name in pages}, \
        round(cpu * 100)


def readable_cards(pw, tmp, url, clicks, window, say):
    clip = write_y4m(os.path.join(tmp, 'card.y4m'))
    browsers = [pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [
        f'--use-file-for-fake-video-capture={clip}']),
        pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)]
    try:
        pages = cards.seat(browsers[0], browsers[1], url)
        bob = pages['Bob']
        wait_until(lambda: 0 < cards.frames(bob)['Alice']['inWidth'] <= 960, 30,
                   interval=0.5, message='links scaled to the tiles')
        time.sleep(window)  # let each link's bandwidth estimate settle
        idle, idle_cpu = upload_kbps(pages, window, clip)
        received = cards.frames(bob)['Alice']['inWidth']
        idle_caps = caps_kbps(pages)
        say(f'upload, nobody spotlighting (kbit/s): {idle}, caps {idle_caps}; '
            f'Bob receives Alice at {received} px; camera Chromium {idle_cpu}% CPU')
        tile = bob.locator('#grid .tile.remote[data-name="Alice"]')
        tile.hover()
        tile.locator('.tool-spotlight').click()
        wait_until(lambda: cards.frames(bob)['Alice']['inWidth'] == cards.WIDTH, 30,
                   interval=0.5, message='the spotlighted link at capture size')
        time.sleep(window)
        spot, spot_cpu = upload_kbps(pages, window, clip)
        spot_caps = caps_kbps(pages)
        say(f'upload, Bob spotlights Alice (kbit/s): {spot}, caps {spot_caps}; '
            f'camera Chromium {spot_cpu}% CPU')
        tile.hover()
        tile.locator('.tool-spotlight').click()
        cards.arm(bob, 'Alice')
        times, unread, parts = [], 0, []
        panel = bob.locator('.snapshot-panel')
        for _ in range(clicks):
            started = time.monotonic()
            texts, ms = cards.snapshot_of_card(bob)
            times.append(ms)
            parts.append([ms, int(panel.get_attribute('data-arrived-ms')),
                          int(panel.get_attribute('data-sender-ms') or -1)])
            unread += texts != [QR_TEXT]
            time.sleep(max(0, 0.4 - (time.monotonic() - started)))  # under 3 a second
        in_order = list(times)
        times.sort()
        p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
        say(f'click to snapshot over {clicks}: p50 {statistics.median(times)} ms, '
            f'p99 {p99} ms, max {times[-1]} ms; QR unread in {unread}; '
            f'[total, to the last chunk, at the sender] ms: {parts}')
        for page in pages.values():
            page.context.close()
        return {'upload_kbps_idle': idle, 'upload_kbps_spotlight': spot,
                'caps_kbps_idle': idle_caps, 'caps_kbps_spotlight': spot_caps,
                'camera_cpu_pct_idle': idle_cpu, 'camera_cpu_pct_spotlight': spot_cpu,
                'received_width_idle': received, 'snapshot_ms': in_order,
                'snapshot_parts_ms': parts,
                'snapshot_p50_ms': statistics.median(times), 'snapshot_p99_ms': p99,
                'snapshot_unread': unread}
    finally:
        for browser in browsers:
            browser.close()


def _stop_on_sigterm(signum, frame):
    raise SystemExit(143)  # unwind, so that the server and the browser are stopped


def main(argv=None):
    p = argparse.ArgumentParser(prog='python -m bench.browser', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--players', type=int, default=2, help='players for the first frame')
    p.add_argument('--trials', type=int, default=3)
    p.add_argument('--mesh-players', type=int, default=8)
    p.add_argument('--cards', action='store_true',
                   help='only the readable-cards figures (issue 12)')
    p.add_argument('--clicks', type=int, default=20)
    p.add_argument('--window', type=float, default=6.0, help='seconds per upload window')
    p.add_argument('--json', metavar='FILE')
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    from playwright.sync_api import sync_playwright

    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    tmp = tempfile.mkdtemp(prefix='rhystic-bench-browser-')
    server = start_server(tmp, **(cards.CAPTURE if args.cards else {}))
    result = {'machine': {'nproc': os.cpu_count(), 'python': platform.python_version(),
                          'cpu': next((line.split(':', 1)[1].strip()
                                       for line in open('/proc/cpuinfo')
                                       if line.startswith('model name')), None)},
              'errors': []}
    try:
        with sync_playwright() as pw:
            if args.cards:
                result['cards'] = readable_cards(pw, tmp, server.url, args.clicks,
                                                 args.window, say)
            else:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                result['machine']['chromium'] = browser.version
                try:
                    result['first_frame'] = first_frame(browser, server.url, args.players,
                                                        args.trials, say)
                    result['mesh'] = mesh(browser, server.url, args.mesh_players, say)
                finally:
                    browser.close()
    except Exception as exc:  # reported, and the exit status says so
        result['errors'].append(f'{type(exc).__name__}: {exc}'[:2000])
    finally:
        server.stop()
        result['errors'] += [line for line in server.log().splitlines()
                             if 'Traceback' in line or '[ERROR]' in line][:5]
        shutil.rmtree(tmp, ignore_errors=True)
    return _report(result, args)


def _report(result, args):
    first, full = result.get('first_frame'), result.get('mesh')
    rows = []
    if first:
        rows.append((f'Join -> first remote frame ({first["players"]} players)',
                     f'median {first["median_ms"]} ms, max {first["max_ms"]} ms '
                     f'over {len(first["trials_ms"])} trials'))
    if full:
        rows.append((f'{full["players"]} players: all {full["links_live"]} links live',
                     f'{full["all_live_ms"]} ms'))
    card = result.get('cards')
    if card:
        rows.append(('click -> snapshot (4 players)', f'p50 {card["snapshot_p50_ms"]} ms, '
                     f'p99 {card["snapshot_p99_ms"]} ms over {len(card["snapshot_ms"])}'))
        for label, key in (('no spotlight', 'idle'), ('Bob spotlights Alice', 'spotlight')):
            rows.append((f'upload kbit/s, {label}', json.dumps(card[f'upload_kbps_{key}'])))
            rows.append((f'video caps kbit/s, {label}', json.dumps(card[f'caps_kbps_{key}'])))
            rows.append((f'1080p camera Chromium CPU, {label}',
                         f'{card[f"camera_cpu_pct_{key}"]} % of one core'))
    width = max((len(r[0]) for r in rows), default=0)
    print('\n'.join(f'{a.ljust(width)}  {b}' for a, b in rows))
    if result['errors']:
        print('\nerrors:\n' + '\n'.join(result['errors']))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({**result, 'args': vars(args),
                       'when': time.strftime('%Y-%m-%dT%H:%M:%S%z')}, f, indent=1)
    return 1 if result['errors'] else 0


if __name__ == '__main__':
    sys.exit(main())
