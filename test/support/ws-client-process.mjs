// A WebSocket client in its own process, so a test can SIGSTOP it: a frozen process stops
// answering pings while its TCP connection stays open (a half-open peer).
import { WebSocket } from 'ws';

const ws = new WebSocket(process.argv[2]);
ws.on('message', (data) => {
  const frame = JSON.parse(String(data));
  if (frame.event === 'session') process.stdout.write(`session ${frame.data.managerId}\n`);
});
ws.on('close', (code) => {
  process.stdout.write(`closed ${code}\n`);
  process.exit(0);
});
ws.on('error', (error) => {
  process.stdout.write(`error ${error.message}\n`);
  process.exit(1);
});
