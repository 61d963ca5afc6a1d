// One load-generator process for bench/signaling.py. Commands arrive as JSON lines on
// stdin; each gets one JSON line back on stdout. Anything on stderr is an error.
//
// Every room lives wholly in one process, so a signal's sender and receiver share a
// clock: one-way latency is performance.now() at delivery minus performance.now() at
// send, with no cross-process clock in the way.
'use strict';
const readline = require('readline');
const { performance } = require('perf_hooks');
const { io } = require('socket.io-client');

const SDP_HEAD = 'v=0\r\no=- ';
const FILLER_LINE = 'a=candidate:842163049 1 udp 1677729535 198.51.100.7 40001 typ srflx\r\n';

let held = []; // [{id, peers: [{socket, peerId}]}]
let relay = null; // the relay run in progress: counters and send times

function fail(message) {
  process.stderr.write(`loadgen ${process.pid}: ${message}\n`);
}

function sdpOf(seq, size) {
  let body = SDP_HEAD + seq + ' 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';
  while (body.length < size) body += FILLER_LINE;
  return body.slice(0, Math.max(size, body.indexOf('\r\nt=') + 6));
}

function seqOf(msg) {
  if (msg.type === 'ice') {
    const c = msg.candidate.candidate; // 'candidate:<seq> 1 udp ...'
    return Number(c.slice(10, c.indexOf(' ')));
  }
  return Number(msg.sdp.slice(SDP_HEAD.length, msg.sdp.indexOf(' ', SDP_HEAD.length)));
}

// Connect one peer; resolves with {socket, peerId, welcome} once `welcome` arrives.
let nextPeerIndex = 0;

function connectPeer(url, roomId, token, onSignal) {
  return new Promise((resolve, reject) => {
    const socket = io(`${url}/room/${roomId}`, {
      transports: ['websocket'], forceNew: true, reconnection: false,
      auth: { token }, timeout: 60000,
    });
    const peer = { socket, peerId: null, index: nextPeerIndex++ };
    // A server that never answers the namespace connect must not hang the benchmark.
    const timer = setTimeout(() => {
      peer.closing = true;
      socket.close();
      reject(new Error(`no welcome in ${roomId} within 30 s`));
    }, 30000);
    socket.on('welcome', (w) => {
      clearTimeout(timer);
      peer.peerId = w.peer_id;
      resolve({ peer, welcome: w });
    });
    socket.on('signal', (msg) => onSignal(peer, msg));
    // A signal sent without an ack that the server refused (docs/protocol.md §5).
    socket.on('signal-error', (e) => fail(`signal-error in ${roomId}: ${JSON.stringify(e)}`));
    socket.on('connect_error', (err) => {
      clearTimeout(timer);
      peer.closing = true;
      socket.close();
      reject(new Error(`connect_error ${err.message} ${JSON.stringify(err.data || '')}`));
    });
    socket.on('disconnect', (reason) => {
      if (!peer.closing) fail(`socket in ${roomId} dropped: ${reason}`);
    });
  });
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

function onRelaySignal(peer, msg) {
  if (!relay) return;
  const t0 = relay.sentAt.get(seqOf(msg));
  if (t0 === undefined) { relay.unexpected++; return; }
  relay.sentAt.delete(seqOf(msg));
  relay.latencies.push(performance.now() - t0);
}

async function hold({ url, rooms, peers, concurrency }) {
  const start = performance.now();
  const jobs = [];
  for (const room of rooms) {
    const entry = { id: room.id, peers: [] };
    held.push(entry);
    for (let i = 0; i < peers; i++) jobs.push({ entry, room });
  }
  const errors = await inBatches(jobs, concurrency, async ({ entry, room }) => {
    const { peer } = await connectPeer(url, room.id, room.token, onRelaySignal);
    entry.peers.push(peer);
  });
  const connected = held.reduce((n, r) => n + r.peers.length, 0);
  return { connected, failed: errors.length, errors: errors.slice(0, 5),
    ms: performance.now() - start };
}

// Join storm: every peer of every room connects at once and follows the offer rule.
// A room is done (its time taken) once each of its 28 pairs has an answer, but its
// sockets leave only once it has settled: every offer sent answered and every signal
// acked. Two newcomers can each find the other in their welcome and both offer
// (docs/protocol.md §9), and the second exchange can still be on its way when the pair
// is already done; a peer leaving then has that signal refused `unknown_peer`, rightly
// (bench/README.md, "the two-worker join storm's unknown_peer").
async function storm({ url, rooms, peers, sdpBytes, timeoutMs, settleMs = 10000 }) {
  const start = performance.now();
  const pairs = (peers * (peers - 1)) / 2;
  const state = rooms.map((room) => ({ room, done: new Set(), at: null, sockets: [],
    offers: 0, answers: 0, unacked: 0 }));
  let finished = 0;
  let errors = 0;
  let resolveAll, resolveSettled;
  const all = new Promise((r) => { resolveAll = r; });
  const settled = new Promise((r) => { resolveSettled = r; });
  const isSettled = (st) => st.answers === st.offers && st.unacked === 0;
  const checkSettled = () => {
    if (finished === state.length && state.every(isSettled)) resolveSettled();
  };

  const send = (st, peer, signal) => {
    st.unacked++;
    peer.socket.emit('signal', signal, (ack) => {
      st.unacked--;
      if (!ack || !ack.ok) { errors++; fail(`storm signal refused: ${JSON.stringify(ack)}`); }
      checkSettled();
    });
  };
  const connects = [];
  for (const st of state) {
    const onSignal = (peer, msg) => {
      if (msg.type === 'offer') {
        send(st, peer, { to: msg.from, type: 'answer', sdp: sdpOf(0, sdpBytes) });
      } else if (msg.type === 'answer') {
        st.answers++;
        st.done.add([peer.peerId, msg.from].sort().join(' '));
        if (st.done.size === pairs && st.at === null) {
          st.at = performance.now() - start;
          if (++finished === state.length) resolveAll();
        }
        checkSettled();
      }
    };
    for (let i = 0; i < peers; i++) {
      connects.push(connectPeer(url, st.room.id, st.room.token, onSignal).then(
        ({ peer, welcome }) => {
          st.sockets.push(peer);
          for (const other of welcome.peers) {
            st.offers++;
            send(st, peer, { to: other.peer_id, type: 'offer', sdp: sdpOf(0, sdpBytes) });
          }
        },
        (err) => { errors++; fail(`storm connect failed: ${err.message}`); }));
    }
  }
  await Promise.all(connects);
  const timer = setTimeout(resolveAll, timeoutMs);
  await all;
  clearTimeout(timer);
  const ms = performance.now() - start;
  if (finished === state.length) { // a room that timed out will not settle either
    checkSettled();
    const settleTimer = setTimeout(resolveSettled, settleMs);
    await settled;
    clearTimeout(settleTimer);
  }
  const unsettled = state.filter((s) => s.at !== null && !isSettled(s)).map((s) => ({
    room: s.room.id, offers: s.offers, answers: s.answers, unacked: s.unacked }));
  if (unsettled.length) {
    fail(`storm rooms left with signals in flight: ${JSON.stringify(unsettled)}`);
  }
  const result = {
    rooms: state.length, completed: state.filter((s) => s.at !== null).length,
    completions_ms: state.filter((s) => s.at !== null).map((s) => s.at),
    errors, ms, unsettled, offers: state.reduce((n, s) => n + s.offers, 0),
    // Rooms that timed out: how far they got, to tell a lost signal from a slow one.
    incomplete: state.filter((s) => s.at === null).map((s) => ({
      room: s.room.id, joined: s.sockets.length, pairs_done: s.done.size })),
  };
  await inBatches(state.flatMap((s) => s.sockets), 200, leaveAndClose);
  return result;
}

// Room setup as the web client does it: 8 peers join one room at once, newcomers offer,
// and each end of each of the 28 links sends `candidates` ICE candidates after its offer
// or answer. mode 'before': each candidate its own signal with an ack (the web client
// until issue 15); 'after': in `batches` lists, without an ack; 'join': no signals at
// all, to tell the joins' share. Resolves when every room is complete; the sockets are
// kept (held) so that the caller can read the server's CPU before they leave.
// Joining at once, two newcomers can each find the other in their welcome and both offer
// (docs/protocol.md §9); each then sends its candidates twice, once per round, as two
// peer connections would, with their own ufrag. So the room is done when every offer
// sent has its answer and every candidate sent has arrived, and a candidate counts as a
// duplicate only if the same one (same round) arrives twice.
async function setup({ url, rooms, peers, sdpBytes, mode, candidates, batches, timeoutMs }) {
  const start = performance.now();
  const pairs = (peers * (peers - 1)) / 2;
  let finished = 0, errors = 0, resolveAll;
  const all = new Promise((r) => { resolveAll = r; });
  const ackCheck = (ack) => {
    if (!ack || !ack.ok) { errors++; fail(`setup signal refused: ${JSON.stringify(ack)}`); }
  };
  const state = rooms.map((room) => ({ room, answered: new Set(), got: 0, joined: 0,
    sent: 0, offers: 0, answers: 0, seen: new Set(), duplicates: 0, at: null,
    entry: { id: room.id, peers: [] } }));
  const check = (st) => {
    // All pairs answered means every welcome was handled (a socket hears its welcome
    // before any signal), so every offer, and with it every candidate, is counted.
    const done = mode === 'join' ? st.joined === peers
      : st.answered.size === pairs && st.answers === st.offers && st.got === st.sent;
    if (done && st.at === null) {
      st.at = performance.now() - start;
      if (++finished === state.length) resolveAll();
    }
  };
  const sendCandidates = (st, peer, to, round) => {
    st.sent += candidates;
    const list = Array.from({ length: candidates }, (_, i) => ({
      candidate: `candidate:${i} 1 udp 2122260223 192.0.2.7 ${50000 + i} typ host generation 0`,
      sdpMid: '0', sdpMLineIndex: 0, usernameFragment: round }));
    if (mode === 'before') {
      for (const candidate of list) {
        peer.socket.emit('signal', { to, type: 'ice', candidate }, ackCheck);
      }
      return;
    }
    const size = Math.ceil(candidates / batches);
    for (let i = 0; i < list.length; i += size) {
      peer.socket.emit('signal', { to, type: 'ice', candidates: list.slice(i, i + size) });
    }
  };
  const connects = [];
  for (const st of state) {
    held.push(st.entry);
    const onSignal = (peer, msg) => {
      if (msg.type === 'offer') {
        peer.socket.emit('signal', { to: msg.from, type: 'answer', sdp: sdpOf(0, sdpBytes) },
          ackCheck);
        sendCandidates(st, peer, msg.from, 'answer');
      } else if (msg.type === 'answer') {
        st.answers++;
        st.answered.add([peer.peerId, msg.from].sort().join(' '));
      } else if (msg.type === 'ice') {
        // Counted once each: a candidate that arrives twice is reported, not taken for
        // a complete room.
        // Keyed by our socket, not our peer_id: a signal can come before our welcome
        // (docs/protocol.md), while peer.peerId is still null, and two peers would share it.
        for (const c of msg.candidates ?? [msg.candidate]) {
          const key = `${msg.from}>${peer.index} ${c.usernameFragment} ${c.candidate}`;
          if (st.seen.has(key)) st.duplicates++;
          else st.seen.add(key);
        }
        st.got = st.seen.size;
      }
      check(st);
    };
    for (let i = 0; i < peers; i++) {
      connects.push(connectPeer(url, st.room.id, st.room.token, onSignal).then(
        ({ peer, welcome }) => {
          st.entry.peers.push(peer);
          st.joined++;
          for (const other of mode === 'join' ? [] : welcome.peers) {
            peer.socket.emit('signal', { to: other.peer_id, type: 'offer',
              sdp: sdpOf(0, sdpBytes) }, ackCheck);
            st.offers++;
            sendCandidates(st, peer, other.peer_id, 'offer');
          }
          check(st);
        },
        (err) => { errors++; fail(`setup connect failed: ${err.message}`); }));
    }
  }
  await Promise.all(connects);
  const timer = setTimeout(resolveAll, timeoutMs);
  await all;
  clearTimeout(timer);
  return { rooms: state.length, completed: finished, errors,
    duplicates: state.reduce((n, s) => n + s.duplicates, 0),
    // Links on which both ends offered: each such end sent its candidates twice.
    double_offers: state.reduce((n, s) => n + Math.max(0, s.offers - pairs), 0),
    completions_ms: state.filter((s) => s.at !== null).map((s) => s.at),
    ms: performance.now() - start,
    incomplete: state.filter((s) => s.at === null).map((s) => ({ room: s.room.id,
      joined: s.joined, answered: s.answered.size, offers: s.offers, answers: s.answers,
      candidates: s.got, sent: s.sent })) };
}

function leaveAndClose(peer) {
  return new Promise((resolve) => {
    peer.closing = true;
    const done = () => { peer.socket.close(); resolve(); };
    const timer = setTimeout(done, 5000);
    peer.socket.emit('leave', {}, () => { clearTimeout(timer); done(); });
  });
}

// Steady relay across every held room: `rate` signals a second for `seconds`.
async function runRelay({ rate, seconds, sdpShare, sdpBytes, drainMs }) {
  const rooms = held.filter((r) => r.peers.length >= 2);
  if (!rooms.length) { // more load-generator processes than rooms: this one idles
    return { sent: 0, received: 0, acked: 0, ack_errors: 0, lost: 0, unexpected: 0,
      send_ms: seconds * 1000, loadgen_cpu_ms: 0, latencies: [] };
  }
  relay = { sentAt: new Map(), latencies: [], unexpected: 0 };
  let sent = 0, acked = 0, ackErrors = 0, seq = 1;
  const onAck = (ack) => {
    if (ack && ack.ok) acked++;
    else { ackErrors++; if (ackErrors <= 5) fail(`relay signal refused: ${JSON.stringify(ack)}`); }
  };
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const total = Math.round(rate * seconds);
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      while (sent < due) {
        const room = rooms[(Math.random() * rooms.length) | 0];
        const n = room.peers.length;
        const a = (Math.random() * n) | 0;
        const b = (a + 1 + ((Math.random() * (n - 1)) | 0)) % n;
        const from = room.peers[a], to = room.peers[b];
        const s = seq++;
        let msg;
        if (Math.random() < sdpShare) {
          msg = { to: to.peerId, type: Math.random() < 0.5 ? 'offer' : 'answer',
            sdp: sdpOf(s, sdpBytes) };
        } else {
          msg = { to: to.peerId, type: 'ice', candidate: {
            candidate: `candidate:${s} 1 udp 2122260223 192.0.2.7 54321 typ host generation 0`,
            sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'Fq3z' } };
        }
        relay.sentAt.set(s, performance.now());
        from.socket.emit('signal', msg, onAck);
        sent++;
      }
      if (sent >= total) { clearInterval(timer); resolve(); }
    };
    const timer = setInterval(tick, 1);
  });
  const sendMs = performance.now() - start;
  const drainStart = performance.now();
  while ((relay.sentAt.size || acked + ackErrors < sent) &&
         performance.now() - drainStart < drainMs) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const cpu = process.cpuUsage(cpu0);
  const result = { sent, received: relay.latencies.length, acked, ack_errors: ackErrors,
    lost: relay.sentAt.size, unexpected: relay.unexpected, send_ms: sendMs,
    loadgen_cpu_ms: (cpu.user + cpu.system) / 1000,
    latencies: relay.latencies.map((x) => Math.round(x * 100) / 100) };
  relay = null;
  return result;
}

// leave: false closes the sockets without `leave`, as a browser that vanishes does:
// their seats then wait out the grace period on the server.
async function release({ leave = true } = {}) {
  const peers = held.flatMap((r) => r.peers);
  held = [];
  await inBatches(peers, 200, leave ? leaveAndClose : async (peer) => {
    peer.closing = true;
    peer.socket.close();
  });
  return { released: peers.length };
}

const commands = { hold, storm, setup, relay: runRelay, release };
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
