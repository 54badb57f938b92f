import { WebSocket } from 'ws';

/** A frame as the example app sends it. */
export interface DemoFrame {
  event: string;
  data: Record<string, unknown> & { cleanup?: unknown };
}

/** An open socket and its first frame (`session` or `error`). */
export interface DemoSession {
  ws: WebSocket;
  first: DemoFrame;
  closed: Promise<{ code: number; reason: string }>;
  frames: DemoFrame[];
}

/** Opens a socket and waits for its first frame. */
export function openSession(url: string): Promise<DemoSession> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const frames: DemoFrame[] = [];
    const closed = new Promise<{ code: number; reason: string }>((done) => ws.once('close', (code, reason) => done({ code, reason: String(reason) })));
    ws.on('error', reject);
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as DemoFrame;
      if (frames.length === 0) resolve({ ws, first: frame, closed, frames });
      frames.push(frame);
    });
  });
}

// Child-process mode (`node demo-client.js URL...`): holds the sessions and prints `ready` once
// all are open, so the demo can SIGSTOP this process and leave them half-open.
if (process.argv[1]?.endsWith('demo-client.js')) {
  const urls = process.argv.slice(2);
  await Promise.all(urls.map((url) => openSession(url)));
  process.stdout.write('ready\n');
}
