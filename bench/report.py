"""bench/signaling.py's printed table and its --json file."""
import json
import shutil
import time

from bench.targets import PEERS

# -- the report -----------------------------------------------------------------------------
def passes(run, args):
    return (run['lost'] == 0 and run['ack_errors'] == 0 and not run.get('unexpected')
            and run['p99_ms'] is not None
            and run['p99_ms'] < args.p99_limit and run['achieved_rate'] >= 0.95 * run['rate'])



def fmt(value, unit='', digits=1):
    if value is None:
        return '-'
    if isinstance(value, float):
        value = round(value, digits)
    return f'{value}{unit}'


def _gc(run):
    gc = run.get('gc')
    if not gc:
        return '-'
    return (f"{gc['count']}, {fmt(gc['p99_ms'], '', 2)} / {fmt(gc['max_ms'], ' ms', 2)} "
            f"(CPU {fmt(gc['cpu_p99_ms'], '', 2)} / {fmt(gc['cpu_max_ms'], ' ms', 2)})")


def row_adder(results, rows):
    """row(label, get) appends [label, a cell per result] to rows: get(result), or '-'
    where that result lacks the figure. Also bench/game.py's table."""
    def row(label, get):
        cells = []
        for r in results:
            try:
                cells.append(get(r))
            except (KeyError, IndexError, TypeError):
                cells.append('-')
        rows.append([label, *cells])
    return row


def table(results, args):
    cols = [r['server'] for r in results]
    rows = []
    row = row_adder(results, rows)

    def run_at(r, rate):
        return next(x for x in r['relay'] if x['rate'] == rate)

    row('load average (1 min) before / after', lambda r: (
        f"{r['loadavg_before'][0]:.1f} / {r['loadavg_after'][0]:.1f}"))
    for mode in args.setup_modes:
        label = {'join': 'joins only', 'before': 'ice one by one, acked',
                 'after': f'ice in {args.candidate_batches} lists, no ack'}[mode]
        row(f'room setup CPU per 8-player room ({label})', lambda r, mode=mode: (
            f"{fmt(r['setup'][mode]['cpu_ms_per_room'], ' ms', 2)}, "
            f"{r['setup'][mode]['frames_per_room']} signal frames"))
        row(f'  setup p50 / p99 ({args.setup_rooms} rooms at once)', lambda r, mode=mode: (
            f"{fmt(r['setup'][mode]['p50_ms'], '', 0)} / "
            f"{fmt(r['setup'][mode]['p99_ms'], ' ms', 0)}, "
            f"{r['setup'][mode]['completed']} done"
            + (f", {r['setup'][mode]['duplicates']} candidates delivered twice"
               if r['setup'][mode]['duplicates'] else '')
            + (f", {r['setup'][mode]['double_offers']} links offered from both ends"
               if r['setup'][mode].get('double_offers') else '')))
    if args.storm_rooms:
        row(f'join storm {args.storm_rooms}x8: all rooms done',
            lambda r: fmt(r['storm']['all_done_ms'], ' ms', 0))
        row('join storm: room p50 / p99', lambda r: (
            f"{fmt(r['storm']['p50_ms'], '', 0)} / {fmt(r['storm']['p99_ms'], ' ms', 0)}"))
    if args.hold_rooms:
        row(f'connect {args.hold_rooms * PEERS} sockets', lambda r: (
            f"{fmt(r['hold']['connect_s'], ' s')} ({r['hold']['peers']} ok, "
            f"{r['hold']['failed']} failed)"))
        row('RSS per held peer above idle', lambda r: fmt(r['hold']['rss_kb_per_peer'], ' KB'))
        if args.idle_seconds:
            row(f'  idle CPU with them held ({args.idle_seconds:g} s)', lambda r: (
                f"{fmt(r['hold']['idle']['cpu_share'] * 100, ' % of a core')}"))
        row(f'{args.hold_rate}/s with {args.hold_rooms * PEERS} held: p99 / max', lambda r: (
            f"{fmt(r['hold']['relay']['p99_ms'], '')} / "
            f"{fmt(r['hold']['relay']['max_ms'], ' ms')}, lost {r['hold']['relay']['lost']}"))
        row(f'  CPU per signal at {args.hold_rooms * PEERS} held',
            lambda r: fmt(r['hold']['relay']['cpu_us_per_msg'], ' µs'))
        row('  GC pauses meanwhile: count, p99 / max', lambda r: _gc(r['hold']['relay']))
    for rate in args.rates:
        row(f'{rate}/s over {args.rooms * PEERS}: p50 / p99 / max', lambda r, rate=rate: (
            f"{fmt(run_at(r, rate)['p50_ms'], '')} / {fmt(run_at(r, rate)['p99_ms'], '')} / "
            f"{fmt(run_at(r, rate)['max_ms'], ' ms')}"))
        row(f'  lost / CPU per signal', lambda r, rate=rate: (
            f"{run_at(r, rate)['lost']} / {fmt(run_at(r, rate)['cpu_us_per_msg'], ' µs')}"))
        row('  GC pauses meanwhile: count, p99 / max',
            lambda r, rate=rate: _gc(run_at(r, rate)))
    row(f'sustained rate (p99 < {args.p99_limit} ms, no loss)', lambda r: (
        f"{r['sustained_rate']}/s" + (' (ceiling)' if r['search'] and
                                      passes(r['search'][-1], args) else '')))
    widths = [max(len(str(x[i])) for x in rows + [['', *cols]]) for i in range(len(cols) + 1)]
    lines = ['  '.join(str(c).ljust(w) for c, w in zip(['', *cols], widths))]
    lines += ['  '.join(str(c).ljust(w) for c, w in zip(x, widths)) for x in rows]
    by_name = {r['server']: r for r in results}
    node = by_name.get('node')
    for r in results:
        if node is None or r is node:
            continue
        for rate in args.rates:
            try:
                ours, theirs = run_at(r, rate)['cpu_us_per_msg'], run_at(node, rate)['cpu_us_per_msg']
                lines.append(f'{r["server"]} / node CPU per signal at {rate}/s: '
                             f'{ours / theirs:.2f}x')
            except (KeyError, StopIteration, TypeError, ZeroDivisionError):
                pass
    for r in results:
        if node is None or r is node:
            continue
        for mode in args.setup_modes:
            try:
                ours = r['setup'][mode]['cpu_ms_per_room']
                theirs = node['setup'][mode]['cpu_ms_per_room']
                lines.append(f'{r["server"]} / node CPU per room setup ({mode}): '
                             f'{ours / theirs:.2f}x')
            except (KeyError, TypeError, ZeroDivisionError):
                pass
    lines += _floor_ratios(results, by_name, args)
    one, two = by_name.get('rhystic-1w'), by_name.get('rhystic-2w')
    if one and two and one['sustained_rate']:
        lines.append(f'2 workers / 1 worker sustained rate: '
                     f'{two["sustained_rate"] / one["sustained_rate"]:.2f}x')
    return '\n'.join(lines)


def _floor_ratios(results, by_name, args):
    """Storm p99 against Node's, and Rhystic against the bare stack (python-bare)."""
    lines = []

    def ratio(label, a, b, get):
        try:
            lines.append(f'{label}: {get(a) / get(b):.2f}x')
        except (KeyError, TypeError, ZeroDivisionError):
            pass

    node, bare = by_name.get('node'), by_name.get('python-bare')
    for r in results:
        if node is not None and r is not node and args.storm_rooms:
            ratio(f'{r["server"]} / node join storm p99', r, node,
                  lambda x: x['storm']['p99_ms'])
        if bare is None or r is bare or r is node:
            continue
        for mode in args.setup_modes:
            ratio(f'{r["server"]} / python-bare CPU per room setup ({mode})', r, bare,
                  lambda x, mode=mode: x['setup'][mode]['cpu_ms_per_room'])
        if args.storm_rooms:
            ratio(f'{r["server"]} / python-bare join storm p99', r, bare,
                  lambda x: x['storm']['p99_ms'])
    return lines


def finish(report, results, errors, info, args, log_dir, say):
    """Print the table and the errors, write --json, drop the logs; the exit status."""
    print(report)
    if errors:
        print('\nerrors:\n' + '\n'.join(errors[:20]))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'machine': info, 'args': vars(args), 'results': results,
                       'errors': errors, 'when': time.strftime('%Y-%m-%dT%H:%M:%S%z')},
                      f, indent=1)
    if not args.keep_logs:
        shutil.rmtree(log_dir, ignore_errors=True)
    else:
        say(f'logs kept in {log_dir}')
    return 1 if errors else 0
