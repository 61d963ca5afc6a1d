// One load-generator process for bench/game.py. Commands arrive as JSON lines on stdin;
// each gets one JSON line back on stdout. Anything on stderr is an error.
//
// Every room lives wholly in one process, so an action and the `game-update`s it causes
// at all eight players are timed on one clock: the round trip of an action is
// performance.now() when the last member of the room has its update, minus when it was
// sent.
'use strict';
const readline = require('readline');
const { performance } = require('perf_hooks');
const { io } = require('socket.io-client');

let tables = []; // [{id, players: [{socket, userId, peerId, version, players, sum}]}]
let play = null; // the run in progress: pending actions by request_id, and counters
let runs = 0; // request_ids carry the run's number: a late answer to an earlier run is no surprise

function fail(message) {
  process.stderr.write(`gameload ${process.pid}: ${message}\n`);
}

function round2(x) { return Math.round(x * 100) / 100; }

// Connect one player; resolves once its `welcome` (with the game) arrives.
function connectPlayer(url, table, who) {
  return new Promise((resolve, reject) => {
    const socket = io(`${url}/room/${table.id}`, {
      transports: ['websocket'], forceNew: true, reconnection: false,
      auth: { token: who.token }, timeout: 60000,
    });
    const player = { socket, userId: who.user_id, peerId: null, version: 0, players: 0,
      sum: 0, table, closing: false };
    const timer = setTimeout(() => {
      player.closing = true;
      socket.close();
      reject(new Error(`no welcome in ${table.id} within 30 s`));
    }, 30000);
    socket.on('welcome', (w) => {
      clearTimeout(timer);
      player.peerId = w.peer_id;
      if (!w.game) { reject(new Error(`welcome without a game in ${table.id}`)); return; }
      seen(player, w.game.state);
      const mine = w.game.state.players[who.user_id];
      if (!mine) { reject(new Error(`not seated in the game of ${table.id}`)); return; }
      player.startLife = mine.life;
      resolve(player);
    });
    socket.on('game-update', (update) => onUpdate(player, update));
    socket.on('connect_error', (err) => {
      clearTimeout(timer);
      player.closing = true;
      socket.close();
      reject(new Error(`connect_error ${err.message} ${JSON.stringify(err.data || '')}`));
    });
    socket.on('disconnect', (reason) => {
      if (player.closing) return;
      if (play) play.dropped++;
      fail(`socket in ${table.id} dropped: ${reason}`);
    });
  });
}

function seen(player, state) {
  if (state.version > player.version) {
    player.version = state.version;
    player.players = Object.keys(state.players).length;
  } else if (play) {
    play.outOfOrder++; // allowed with several workers (docs/protocol.md), but counted
  }
}

function onUpdate(player, update) {
  seen(player, update.state);
  if (!play) return;
  const action = play.pending.get(update.request_id);
  if (action === undefined || action.table !== player.table) {
    if (update.request_id === null) return; // a join
    if (!update.request_id.startsWith(`${process.pid}-${play.run}-`)) play.late++;
    else play.unexpected++;
    return;
  }
  if (play.sizeSamples < 1000) {
    play.sizeSamples++;
    play.updateBytes += JSON.stringify(update).length;
  }
  const now = performance.now();
  if (action.arrivals++ === 0) play.first.push(now - action.t0);
  if (player === action.player) play.own.push(now - action.t0);
  if (action.arrivals === action.expected) {
    play.latencies.push(now - action.t0);
    settle(play, action, update.request_id);
  }
}

function settle(run, action, requestId) {
  if (action.arrivals >= action.expected && action.acked) run.pending.delete(requestId);
}

async function inBatches(items, concurrency, fn) {
  let next = 0;
  const errors = [];
  async function lane() {
    while (next < items.length) {
      const item = items[next++];
      try { await fn(item); } catch (err) { errors.push(err.message); }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return errors;
}

async function waitFor(condition, timeoutMs) {
  const start = performance.now();
  while (!condition() && performance.now() - start < timeoutMs) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return condition();
}

// Seat every player of every table, then wait until each socket has seen the whole table.
async function join({ url, rooms, concurrency }) {
  const start = performance.now();
  const jobs = [];
  for (const room of rooms) {
    const table = { id: room.id, players: [], size: room.players.length };
    tables.push(table);
    for (const who of room.players) jobs.push({ table, who });
  }
  const errors = await inBatches(jobs, concurrency, async ({ table, who }) => {
    table.players.push(await connectPlayer(url, table, who));
  });
  const all = () => tables.flatMap((t) => t.players);
  const ready = await waitFor(
    () => all().every((p) => p.players === p.table.size), 30000);
  return { connected: all().length, failed: errors.length, errors: errors.slice(0, 5),
    tables_ready: ready, ms: performance.now() - start };
}

// Every player sends a `game` life action every intervalMs (± jitter), for `seconds`.
async function runPlay({ seconds, intervalMs, jitter, drainMs }) {
  const run = play = { run: ++runs, pending: new Map(), latencies: [], first: [], own: [],
    acks: [], sent: 0, acked: 0, ackErrors: 0, unexpected: 0, late: 0, outOfOrder: 0,
    updateBytes: 0, sizeSamples: 0, dropped: 0 };
  const players = tables.flatMap((t) => t.players);
  let seq = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const endAt = start + seconds * 1000;
  const lag = { max: 0, last: start };
  const lagTimer = setInterval(() => { // the load generator's own event-loop lag
    const now = performance.now();
    lag.max = Math.max(lag.max, now - lag.last - 50);
    lag.last = now;
  }, 50);

  const act = (player) => {
    if (!player.socket.connected) return; // dropped (counted): its actions can't be sent
    const requestId = `${process.pid}-${run.run}-${++seq}`;
    // Alternate -1 and +1 so life stays near the start however long the run.
    const delta = player.nextDelta || -1;
    player.nextDelta = -delta;
    const action = { t0: performance.now(), table: player.table, player, acked: false,
      arrivals: 0, expected: player.table.players.length };
    run.pending.set(requestId, action);
    run.sent++;
    player.socket.emit('game', { type: 'life', player: player.userId, delta,
      request_id: requestId }, (ack) => {
      // `run`, not `play`: an ack may come after its run has ended (and still counts).
      if (ack && ack.ok) {
        run.acked++;
        run.acks.push(performance.now() - action.t0);
        player.sum += delta; // what the server's total must show at the end
        action.acked = true;
        settle(run, action, requestId);
      } else {
        run.ackErrors++;
        run.pending.delete(requestId);
        if (run.ackErrors <= 5) fail(`game action refused: ${JSON.stringify(ack)}`);
      }
    });
  };
  await new Promise((resolve) => {
    let running = players.length;
    for (const player of players) {
      const next = () => {
        if (performance.now() >= endAt) { if (--running === 0) resolve(); return; }
        act(player);
        setTimeout(next, intervalMs * (1 + jitter * (2 * Math.random() - 1)));
      };
      setTimeout(next, Math.random() * intervalMs); // spread the first actions evenly
    }
    if (!players.length) resolve();
  });
  const sendMs = performance.now() - start;
  await waitFor(() => play.pending.size === 0, drainMs);
  clearInterval(lagTimer);
  const cpu = process.cpuUsage(cpu0);
  let missing = 0;
  for (const action of play.pending.values()) missing += action.expected - action.arrivals;
  const result = {
    players: players.length, sent: play.sent, acked: play.acked, ack_errors: play.ackErrors,
    complete: play.latencies.length, incomplete: play.pending.size,
    updates_missing: missing, unexpected: play.unexpected, out_of_order: play.outOfOrder,
    dropped: play.dropped, late: play.late,
    update_bytes: play.sizeSamples ? Math.round(play.updateBytes / play.sizeSamples) : null,
    send_ms: sendMs, loadgen_cpu_ms: (cpu.user + cpu.system) / 1000,
    loadgen_lag_max_ms: round2(lag.max),
    latencies: play.latencies.map(round2), first: play.first.map(round2),
    own: play.own.map(round2), acks: play.acks.map(round2),
  };
  play = null;
  return result;
}

// Ask the server for each table and check every player's life against what was acked.
async function verify() {
  const wrong = [];
  let checked = 0;
  await inBatches(tables.filter((t) => t.players.length), 50, (table) => new Promise(
    (resolve, reject) => {
      const reader = table.players.find((p) => p.socket.connected);
      if (!reader) { reject(new Error(`game-sync in ${table.id}: every socket dropped`)); return; }
      // A server that never answers must not hang the benchmark.
      reader.socket.timeout(15000).emit('game-sync', {}, (err, ack) => {
        if (err || !ack || !ack.ok) {
          reject(new Error(`game-sync in ${table.id}: ${err ? 'no answer' : JSON.stringify(ack)}`));
          return;
        }
        for (const p of table.players) {
          const have = ack.state.players[p.userId];
          checked++;
          if (!have || have.life !== p.startLife + p.sum) {
            wrong.push({ room: table.id, player: p.userId, life: have && have.life,
              expected: p.startLife + p.sum });
          }
        }
        resolve();
      });
    })).then((errors) => errors.forEach((e) => wrong.push({ error: e })));
  return { checked, wrong: wrong.slice(0, 10), wrong_count: wrong.length };
}

function leaveAndClose(player) {
  return new Promise((resolve) => {
    player.closing = true;
    const done = () => { player.socket.close(); resolve(); };
    const timer = setTimeout(done, 5000);
    player.socket.emit('leave', {}, () => { clearTimeout(timer); done(); });
  });
}

async function release() {
  const players = tables.flatMap((t) => t.players);
  tables = [];
  await inBatches(players, 200, leaveAndClose);
  return { released: players.length };
}

const commands = { join, play: runPlay, verify, release };
const rl = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on('line', (line) => {
  queue = queue.then(async () => {
    const command = JSON.parse(line);
    if (command.cmd === 'quit') process.exit(0);
    let reply;
    try {
      reply = await commands[command.cmd](command);
    } catch (err) {
      fail(`${command.cmd} failed: ${err.stack}`);
      reply = { error: String(err) };
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  });
});
rl.on('close', () => process.exit(0));
