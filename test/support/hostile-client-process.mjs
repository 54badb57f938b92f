// Misbehaving WebSocket clients in their own processes (argv: MODE URL [JSON options]).
//   receive-only  never sends a frame; `ws` answers every ping (a dashboard that only listens)
//   never-read    stops reading after `session` (its TCP receive window fills), then floods
//                 `echo` frames of `size` bytes; with `pongs`, also sends unsolicited pongs
//   pongs-only    stops reading after `session` and only sends unsolicited pongs
//   flood         opens `sockets` connections and sends `echo` as fast as it can on each,
//                 reading normally; prints `limited N` at each RATE_LIMITED frame
// Prints `session ID`, `closed CODE REASON` (per socket), `limited N`.
import { WebSocket } from 'ws';

const [mode, url, json] = process.argv.slice(2);
const options = json ? JSON.parse(json) : {};
const out = (line) => process.stdout.write(`${line}\n`);

function open(index = 0, onSession = () => {}, context = undefined) {
  const target = new URL(url);
  if (context !== undefined) target.searchParams.set('context', context);
  const ws = new WebSocket(target);
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data));
    if (frame.event === 'session') {
      out(`session ${frame.data.managerId}`);
      onSession(ws);
    }
    if (frame.event === 'error' && frame.data?.code === 'RATE_LIMITED') out(`limited ${index}`);
  });
  ws.on('close', (code, reason) => out(`closed ${code} ${reason}`));
  ws.on('error', (error) => out(`error ${error.message}`));
  return ws;
}

function stopReading(ws) {
  // The socket stays open, but nothing is read from it: the kernel buffers fill, then the server's.
  ws._socket.pause();
}

if (mode === 'receive-only') open();
else if (mode === 'never-read') {
  const frame = JSON.stringify({ event: 'echo', data: 'x'.repeat(options.size ?? 60_000) });
  open(0, (ws) => {
    stopReading(ws);
    if (options.pongs) setInterval(() => ws.readyState === WebSocket.OPEN && ws.pong(Buffer.from('unsolicited')), 20);
    const pump = () => {
      if (ws.readyState !== WebSocket.OPEN) return;
      // Keep our own send buffer small: the point is what the server holds, not what we do.
      while (ws.bufferedAmount < 1_000_000) ws.send(frame);
      setTimeout(pump, 5);
    };
    pump();
  });
} else if (mode === 'pongs-only') {
  open(0, (ws) => {
    stopReading(ws);
    setInterval(() => ws.readyState === WebSocket.OPEN && ws.pong(Buffer.from('unsolicited')), 20);
  });
} else if (mode === 'flood') {
  const frame = JSON.stringify({ event: 'echo', data: 'flood' });
  for (let i = 0; i < (options.sockets ?? 5); i++) {
    open(i, (ws) => {
      const pump = () => {
        if (ws.readyState !== WebSocket.OPEN) return;
        for (let k = 0; k < 200 && ws.bufferedAmount < 256_000; k++) ws.send(frame);
        setImmediate(pump);
      };
      pump();
    }, `flood-${i}`);
  }
} else {
  out(`error unknown mode ${mode}`);
  process.exit(2);
}
