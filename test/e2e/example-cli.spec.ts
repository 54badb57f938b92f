import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { TEST_SECRET, TestClient } from '../support/app-harness.js';

const dist = (file: string) => fileURLToPath(new URL(`../../dist/example/${file}`, import.meta.url));
// A directory without a .env, and an environment without any WS_* or PORT setting.
const bareEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WS_') && k !== 'PORT'));

describe('example application CLI', () => {
  it('npm start with no configuration serves, and prints a dev token and a ws:// URL that work', async () => {
    const app = spawn(process.execPath, [dist('main.js')], {
      cwd: mkdtempSync(`${tmpdir()}/wsm-`),
      env: { ...bareEnv(), PORT: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        app.stdout!.on('data', (chunk: Buffer) => {
          out += String(chunk);
          const match = /connect: (ws:\/\/\S+)/.exec(out);
          if (match) resolve(match[1]!.replace('localhost', '127.0.0.1'));
        });
        app.once('exit', (code) => reject(new Error(`app exited ${code}: ${out}`)));
      });
      const client = new TestClient(new WebSocket(url));
      expect(await client.next()).toMatchObject({ event: 'session', data: { context: 'main', resumed: false, limit: 20 } });
      const health = await fetch(new URL('/health', url.replace('ws:', 'http:')));
      expect(health.status).toBe(200);
      const admin = await fetch(new URL('/admin/users/dev-user/managers', url.replace('ws:', 'http:')));
      expect(admin.status).toBe(404); // no WS_ADMIN_TOKEN: the admin API does not exist
    } finally {
      app.kill('SIGKILL');
    }
  });

  it('npm run token -- USER prints a token for that user signed with WS_JWT_SECRET', async () => {
    const run = spawnSync(process.execPath, [dist('token.js'), 'alice'], {
      cwd: mkdtempSync(`${tmpdir()}/wsm-`),
      env: { ...bareEnv(), WS_JWT_SECRET: TEST_SECRET },
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    const { payload } = await jwtVerify(run.stdout.trim(), new TextEncoder().encode(TEST_SECRET));
    expect(payload.sub).toBe('alice');
  });

  it('a bad WS_* value fails start-up naming the variable, the value and the rule', () => {
    const run = spawnSync(process.execPath, [dist('main.js')], {
      cwd: mkdtempSync(`${tmpdir()}/wsm-`),
      env: { ...bareEnv(), PORT: '0', WS_MAX_CLEANUP_LEVEL: 'nuclear', NO_COLOR: '1' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(1);
    expect(run.stdout + run.stderr).toMatch(/WS_MAX_CLEANUP_LEVEL="nuclear": .*(conservative|expected)/);
  });
});
