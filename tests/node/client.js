// A Rhystic signaling client in Node, written from docs/protocol.md alone.
// Usage: node client.js <server url> <room id> <api token>
// Prints every server event as a JSON line on stdout; reads commands as JSON lines on
// stdin: {"id": 1, "event": "signal", "data": {...}} is emitted with an ack, and the ack
// comes back as {"event": "ack", "id": 1, "data": {...}}; with "ack": false it is emitted
// without one, as the web client sends `ice` (§5). {"cmd": "close"} disconnects.
import { createInterface } from 'node:readline';
import { io } from 'socket.io-client';

const [url, roomId, token] = process.argv.slice(2);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

// The seat to take back after a drop: §10 of the protocol.
let seat = null;
const socket = io(`${url}/room/${roomId}`, {
  transports: ['websocket'],
  reconnectionDelay: 200,
  reconnectionDelayMax: 1000,
  auth: (cb) => cb(seat ? { token, peer_id: seat.peer_id, resume: seat.resume } : { token }),
});

socket.on('welcome', (welcome) => {
  seat = { peer_id: welcome.peer_id, resume: welcome.resume };
  out({ event: 'welcome', data: welcome });
});
for (const name of ['peer-joined', 'peer-updated', 'peer-left', 'signal', 'signal-error']) {
  socket.on(name, (data) => out({ event: name, data }));
}
socket.on('connect', () => out({ event: 'connect' }));
socket.on('disconnect', (reason) => out({ event: 'disconnect', data: reason }));
socket.on('connect_error', (err) => {
  out({ event: 'connect_error', data: { message: err.message, data: err.data ?? null } });
});

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line);
  if (command.cmd === 'close') {
    socket.disconnect();
    process.exit(0);
  }
  if (command.ack === false) {
    socket.emit(command.event, command.data);
    return;
  }
  socket.timeout(10000).emit(command.event, command.data, (err, ack) => {
    out({ event: 'ack', id: command.id, data: ack ?? null, error: err ? String(err) : null });
  });
});
