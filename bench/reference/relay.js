// The reference relay: socket.io 4.8 on Node with Rhystic's signaling logic and
// nothing else. A namespace per room, a Socket.IO room per seat, `signal` relayed to
// the one addressed peer with `from` stamped, and an ack when one was asked for (a
// refused signal sent without one gets `signal-error`); `ice` with one candidate or a
// `candidates` list. No database, no TURN, no resume: it is the floor our server is
// measured against (bench/README.md).
//
//   node bench/reference/relay.js PORT
'use strict';
const http = require('http');
const crypto = require('crypto');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || 8099);
const httpServer = http.createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' });
  res.end('ok');
});
const io = new Server(httpServer, {
  pingInterval: 10000, // the same Engine.IO settings as Rhystic's defaults
  pingTimeout: 10000,
  maxHttpBufferSize: 80 * 1024,
  serveClient: false,
});

const TYPES = new Set(['offer', 'answer', 'ice']);
const MAX_CANDIDATES = 32;
const rooms = new Map(); // namespace name -> Map(peer_id -> public seat)

const nsp = io.of(/^\/room\/[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$/);
nsp.use((socket, next) => {
  const token = socket.handshake.auth && socket.handshake.auth.token;
  if (typeof token !== 'string' || !token) {
    const err = new Error('unauthorized');
    err.data = { message: 'sign in first' };
    return next(err);
  }
  next();
});

nsp.on('connection', (socket) => {
  const name = socket.nsp.name;
  let seats = rooms.get(name);
  if (!seats) rooms.set(name, (seats = new Map()));
  const peerId = 'p_' + crypto.randomBytes(9).toString('base64url');
  const seat = { peer_id: peerId, user_id: 'u_ref', display_name: 'ref',
    media: { audio: true, video: true } };
  const peers = [...seats.values()];
  seats.set(peerId, seat);
  socket.join(peerId);
  socket.emit('welcome', { peer_id: peerId, resume: 'x', resumed: false, self: seat,
    room: { id: name.slice(6), name: 'bench', max_peers: 8 }, peers,
    ice_servers: [], ice_transport_policy: 'all', ice_servers_ttl: null, grace_seconds: 20 });
  socket.broadcast.emit('peer-joined', seat);

  socket.on('signal', (data, ack) => {
    // Without an ack nothing goes back, unless the signal is refused (protocol.md §5).
    const refuse = (code, message) => {
      const error = { code, message };
      if (typeof ack === 'function') return ack({ ok: false, error });
      socket.emit('signal-error', { to: typeof data?.to === 'string' ? data.to : null,
        type: TYPES.has(data?.type) ? data.type : null, error });
    };
    if (!data || typeof data !== 'object' || typeof data.to !== 'string' ||
        !TYPES.has(data.type)) {
      return refuse('invalid_request', 'bad signal');
    }
    if (!seats.has(data.to) || data.to === peerId) {
      return refuse('unknown_peer', 'no such peer');
    }
    let out;
    if (data.type !== 'ice') {
      out = { from: peerId, type: data.type, sdp: data.sdp };
    } else if (data.candidates === undefined) {
      out = { from: peerId, type: 'ice', candidate: data.candidate };
    } else if (Array.isArray(data.candidates) && data.candidates.length > 0 &&
               data.candidates.length <= MAX_CANDIDATES && data.candidate === undefined &&
               data.candidates.every((c) => c && typeof c.candidate === 'string')) {
      out = { from: peerId, type: 'ice', candidates: data.candidates };
    } else {
      return refuse('invalid_request', 'bad candidates');
    }
    socket.nsp.to(data.to).emit('signal', out);
    if (typeof ack === 'function') ack({ ok: true });
  });

  const leave = () => {
    if (seats.delete(peerId)) {
      socket.broadcast.emit('peer-left', { peer_id: peerId, reason: 'left' });
      if (!seats.size) rooms.delete(name);
    }
  };
  socket.on('leave', (data, ack) => {
    leave();
    if (typeof ack === 'function') ack({ ok: true });
  });
  socket.on('disconnect', leave);
});

httpServer.listen(port, '127.0.0.1', () => console.log(`reference relay on ${port}`));
process.on('SIGTERM', () => process.exit(0));
