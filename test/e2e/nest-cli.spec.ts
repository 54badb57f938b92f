import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { TestClient } from '../support/app-harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Its own outDir, so that the dist/ other suites run from is not rewritten under them.
const WORK = '.nest-cli-test';
const bareEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WS_') && k !== 'PORT'));

describe('Nest CLI (nest-cli.json, swc builder)', () => {
  afterAll(() => rmSync(`${ROOT}/${WORK}`, { recursive: true, force: true }));

  it('`npm run nest -- start` builds the example app with swc and serves it over WebSocket', async () => {
    mkdirSync(`${ROOT}/${WORK}`, { recursive: true });
    writeFileSync(`${ROOT}/${WORK}/tsconfig.json`, JSON.stringify({ extends: '../tsconfig.build.json', compilerOptions: { outDir: 'out' } }));
    const cli = spawn(process.execPath, ['scripts/nest.mjs', 'start', '--path', `${WORK}/tsconfig.json`], {
      cwd: ROOT,
      env: { ...bareEnv(), PORT: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // the CLI starts the app as its own child: end both
    });
    let out = '';
    cli.stderr!.on('data', (chunk: Buffer) => (out += String(chunk)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        cli.stdout!.on('data', (chunk: Buffer) => {
          out += String(chunk);
          const match = /connect: (ws:\/\/\S+)/.exec(out);
          if (match) resolve(match[1]!.replace('localhost', '127.0.0.1'));
        });
        cli.once('exit', (code) => reject(new Error(`nest start exited ${code}: ${out}`)));
      });
      expect(out).toMatch(/Successfully compiled: \d+ files with swc/);
      // Decorator metadata survived swc: DI, the gateway and the adapter work.
      const client = new TestClient(new WebSocket(url));
      expect(await client.next()).toMatchObject({ event: 'session', data: { context: 'main', resumed: false } });
      client.ws.terminate();
      expect((await fetch(new URL('/health', url.replace('ws:', 'http:')))).status).toBe(200);
    } finally {
      try {
        if (cli.pid) process.kill(-cli.pid, 'SIGKILL');
      } catch {
        // The group is already gone (ESRCH): nothing left to stop.
      }
    }
  }, 120_000);
});
