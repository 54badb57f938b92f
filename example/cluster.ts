import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { signUserToken } from './jwt-identity.js';

// `npm run start:cluster`: two example-app instances (PORT and PORT+1) sharing the local Redis
// registry and one JWT secret, so a user's sessions on both count against one limit.
const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const base = Number(process.env.PORT ?? 3000);
const secret = process.env.WS_JWT_SECRET ?? randomBytes(32).toString('hex');
const children: ChildProcess[] = [];

for (const [index, port] of [base, base + 1].entries()) {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      PORT: String(port),
      WS_REGISTRY: 'redis',
      WS_JWT_SECRET: secret,
      WS_NODE_ID: process.env.WS_NODE_ID ? `${process.env.WS_NODE_ID}-${index}` : `node-${index}-${port}`,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.once('exit', (code, signal) => {
    console.log(`instance on port ${port} exited (${signal ?? code}); stopping the other`);
    shutdown(code ?? 1);
  });
  children.push(child);
}

const token = await signUserToken(secret, 'dev-user');
console.log(`cluster: ws://localhost:${base}/ws and ws://localhost:${base + 1}/ws share redis ${process.env.WS_REDIS_URL ?? 'redis://127.0.0.1:6379'}`);
console.log(`dev token for "dev-user": ${token}`);

let stopping = false;
function shutdown(code: number): void {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 200).unref();
}
process.once('SIGINT', () => shutdown(0));
process.once('SIGTERM', () => shutdown(0));
