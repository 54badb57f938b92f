import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The library as a Nest developer gets it: built, `npm pack`ed, installed from the tarball into a
// fresh app in a temp folder (from the local npm cache when it can), type-checked with
// skipLibCheck: false, and tested by that app's own Vitest suite (test/consumer/fixture) with
// real ws clients. One pack + install for the whole file.

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURE = join(ROOT, 'test/consumer/fixture');

/** The consumer's dependencies, at the versions this repository is tested with (so the npm cache has them). */
const CONSUMER_DEPENDENCIES = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/websockets',
  '@nestjs/platform-ws',
  '@nestjs/platform-express',
  '@nestjs/platform-socket.io',
  '@nestjs/schedule',
  '@nestjs/terminus',
  '@nestjs/config',
  '@nestjs/event-emitter',
  'reflect-metadata',
  'rxjs',
  'ws',
];
const CONSUMER_DEV_DEPENDENCIES = ['@nestjs/testing', 'typescript', 'vitest', 'unplugin-swc', '@swc/core', '@types/node'];

const versionOf = (name: string) => versionOfAt(join(ROOT, 'node_modules', name));
const pinned = (names: string[]) => Object.fromEntries(names.map((name) => [name, versionOf(name)]));

function run(command: string, args: string[], cwd: string, timeoutMs: number): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
    env: consumerEnv(),
  });
  if (result.error) throw result.error;
  return result;
}

const output = (r: SpawnSyncReturns<string>) => `${r.stdout}\n${r.stderr}`;

describe('consumer app (installed from npm pack)', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wsm-consumer-'));
    // The library was built by the suite's global setup (tsc -p tsconfig.build.json, as `prepack`
    // does on a real `npm pack`); not again here, because other suites run dist/ meanwhile.
    const pack = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], ROOT, 240_000);
    if (pack.status !== 0) throw new Error(`npm pack failed:\n${output(pack)}`);
    const [{ filename }] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as [{ filename: string }];
    cpSync(FIXTURE, dir, { recursive: true });
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    pkg.dependencies = { 'nestjs-websocket-manager': `file:./${filename}`, ...pinned(CONSUMER_DEPENDENCIES) };
    pkg.devDependencies = pinned(CONSUMER_DEV_DEPENDENCIES);
    writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
    const install = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], dir, 420_000);
    if (install.status !== 0) throw new Error(`npm install of the tarball failed:\n${output(install)}`);
  }, 700_000);

  afterAll(() => {
    if (dir && !process.env.KEEP_CONSUMER) rmSync(dir, { recursive: true, force: true });
  });

  it('ships only the built library (dist/src) and the dashboard assets, with its own types', () => {
    const files = JSON.parse(readFileSync(join(dir, 'node_modules/nestjs-websocket-manager/package.json'), 'utf8')) as { files: string[] };
    expect(files.files).toEqual(['dist/src', 'src/admin/dashboard']);
    const listing = run('npm', ['ls', '--all', '--parseable', 'ioredis'], dir, 60_000);
    expect(listing.stdout.trim()).toBe(''); // an optional peer: not installed unless the app asks
  });

  it('installs one copy of ws, shared with @nestjs/platform-ws, and one prom-client', () => {
    const nested = (owner: string, name: string) => existsSync(join(dir, 'node_modules', owner, 'node_modules', name));
    expect(existsSync(join(dir, 'node_modules/ws/package.json'))).toBe(true);
    expect(nested('nestjs-websocket-manager', 'ws')).toBe(false);
    expect(nested('@nestjs/platform-ws', 'ws')).toBe(false);
    const prom = run('npm', ['ls', '--all', '--parseable', 'prom-client'], dir, 60_000).stdout.trim().split('\n').filter(Boolean);
    expect(prom).toEqual([join(dir, 'node_modules/prom-client')]);
  });

  it('type-checks the app with skipLibCheck: false and no ioredis', () => {
    const check = run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], dir, 240_000);
    expect(check.status, output(check)).toBe(0);
  }, 300_000);

  it("passes the app's own Vitest suite against real ws clients", () => {
    const tests = run(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--reporter=verbose'], dir, 420_000);
    expect(tests.status, output(tests)).toBe(0);
    // Colours depend on the terminal the outer run has: read the summary without them.
    // oxlint-disable-next-line eslint/no-control-regex -- the escape character is what ANSI colours start with
    expect(tests.stdout.replace(/\x1b\[[0-9;]*m/g, '')).toMatch(/Tests\s+\d+ passed/);
  }, 480_000);
});

function versionOfAt(path: string): string {
  return (JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * The consumer runs as a plain project: none of this repository's test environment (Vitest's
 * variables, `npm test`'s lifecycle variables) leaks in; npm's cache and registry settings stay.
 */
function consumerEnv(): NodeJS.ProcessEnv {
  const keep = (key: string) => !key.startsWith('VITEST') && key !== 'NODE_OPTIONS' && (!key.startsWith('npm_') || /^npm_config_(cache|registry)$/.test(key));
  return { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => keep(key))), npm_config_loglevel: 'error' };
}
