import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { INestApplication } from '@nestjs/common';
import type { CleanupReport } from '../src/index.js';
import { createExampleApp } from './bootstrap.js';
import { openSession, type DemoSession } from './demo-client.js';
import { signUserToken } from './jwt-identity.js';

// `npm run demo`: the lock-out story against the running code, with real sockets.
const SECRET = 'demo-secret-0123456789abcdef';
const USER = 'demo-user';
const CHILD = fileURLToPath(new URL('./demo-client.js', import.meta.url));
const children: ChildProcess[] = [];
const say = (line = ''): void => void process.stdout.write(`${line}\n`);

async function start(env: Record<string, string>): Promise<{ app: INestApplication; url: (context: string) => string }> {
  const app = await createExampleApp({ env: { WS_JWT_SECRET: SECRET, WS_CLEANUP_CRON: '0 0 0 1 1 *', ...env }, logger: false });
  await app.listen(0, '127.0.0.1');
  const port = new URL(await app.getUrl()).port;
  const token = await signUserToken(SECRET, USER);
  return { app, url: (context) => `ws://127.0.0.1:${port}/ws?token=${token}&context=${context}` };
}

function describeCleanup(report: CleanupReport | null | undefined): void {
  if (!report) return say('    no cleanup was needed');
  if (report.probe) {
    say(`    liveness probe: pinged ${report.probe.probed} silent connections, ${report.probe.unresponsive} did not answer within ${report.probe.waitedMs} ms`);
  }
  for (const level of report.levels) {
    const reasons = Object.entries(level.reasons).map(([r, n]) => `${n} ${r}`).join(', ') || 'nothing';
    say(`    ${level.level.padEnd(12)} chose ${level.candidates}, removed ${level.removed} (${reasons}) in ${level.durationMs.toFixed(1)} ms`);
  }
  say(`    total: detected ${report.detected}, removed ${report.removed}, slot freed: ${report.freed}`);
}

async function holdInChild(urls: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CHILD, ...urls], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => String(chunk).includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`demo client exited with ${code}`)));
  });
  return child;
}

async function sceneZombies(): Promise<void> {
  say('Scene 1: 20 sessions, 5 killed the hard way, 5 frozen, then a 21st session');
  const { app, url } = await start({ WS_MAX_MANAGERS_PER_USER: '20', WS_PROBE_TIMEOUT_MS: '1000' });
  try {
    const local: DemoSession[] = [];
    for (let i = 0; i < 15; i++) local.push(await openSession(url(`tab-${i}`)));
    const frozen = await holdInChild(Array.from({ length: 5 }, (_, i) => url(`frozen-${i}`)));
    say(`  opened 20 sessions for ${USER}: 15 in this process, 5 in child process ${frozen.pid}`);
    for (const s of local.slice(0, 5)) (s.ws as unknown as { _socket: { destroy(): void } })._socket.destroy();
    say('  destroyed 5 TCP sockets without a close frame (tab-0..tab-4): dead laptops');
    frozen.kill('SIGSTOP');
    say(`  SIGSTOPped process ${frozen.pid}: 5 half-open sessions that no longer answer pings`);
    await new Promise((r) => setTimeout(r, 1100)); // long enough that nobody counts as "heard recently"

    let started = performance.now();
    const s21 = await openSession(url('tab-21'));
    say(`  21st session: ${s21.first.event} after ${(performance.now() - started).toFixed(0)} ms (active ${String(s21.first.data.active)} of 20)`);
    describeCleanup(s21.first.data.cleanup as CleanupReport | null);
    say('  the 5 destroyed sessions are detached, not dead: resumable for WS_RESUME_WINDOW_MS, so they are kept until a slot is needed');

    for (let i = 22; i <= 25; i++) await openSession(url(`tab-${i}`));
    started = performance.now();
    const s26 = await openSession(url('tab-26'));
    say(`  4 more sessions fill the user up again; the next one: ${s26.first.event} after ${(performance.now() - started).toFixed(0)} ms`);
    describeCleanup(s26.first.data.cleanup as CleanupReport | null);
    const healthyOpen = local.slice(5).every((s) => s.ws.readyState === s.ws.OPEN);
    say(`  every healthy session still open: ${healthyOpen}; ${USER} is in.`);
  } finally {
    for (const child of children.splice(0)) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await app.close();
  }
}

async function sceneHealthy(): Promise<void> {
  say();
  say('Scene 2: 20 healthy, active sessions and WS_MAX_CLEANUP_LEVEL=aggressive, then a 21st');
  const { app, url } = await start({ WS_MAX_MANAGERS_PER_USER: '20', WS_MAX_CLEANUP_LEVEL: 'aggressive', WS_PROBE_TIMEOUT_MS: '1000' });
  try {
    const sessions: DemoSession[] = [];
    for (let i = 0; i < 20; i++) sessions.push(await openSession(url(`tab-${i}`)));
    for (const s of sessions) s.ws.send(JSON.stringify({ event: 'echo', data: 'still here' }));
    await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    const s21 = await openSession(url('tab-21'));
    const closed = await s21.closed;
    say(`  21st session: ${s21.first.event} ${JSON.stringify(s21.first.data)} after ${(performance.now() - started).toFixed(0)} ms`);
    say(`  closed with ${closed.code} ${closed.reason}: the client knows not to retry at once`);
    const open = sessions.filter((s) => s.ws.readyState === s.ws.OPEN).length;
    say(`  healthy sessions still open: ${open} of 20; nobody healthy was hurt.`);
    for (const s of sessions) s.ws.close();
  } finally {
    await app.close();
  }
}

try {
  await sceneZombies();
  await sceneHealthy();
  process.exit(0);
} catch (error) {
  for (const child of children) child.kill('SIGKILL');
  console.error(error);
  process.exit(1);
}
