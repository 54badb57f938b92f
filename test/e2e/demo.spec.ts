import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../../dist/example/demo.js', import.meta.url));

describe('npm run demo', () => {
  it('tells the lock-out story from a real run: the frozen peers go, the user gets in, healthy ones stay', () => {
    const run = spawnSync(process.execPath, [DEMO], { encoding: 'utf8', timeout: 60_000 });
    if (run.status !== 0) throw new Error(`demo exited ${run.status}: ${run.stderr}`);
    expect(run.stdout).toMatch(/21st session: session after \d+ ms \(active 16 of 20\)/);
    expect(run.stdout).toMatch(/5 did not answer/);
    expect(run.stdout).toMatch(/moderate\s+chose 5, removed 5 \(5 probe_failed\)/);
    expect(run.stdout).toMatch(/aggressive\s+chose 1, removed 1 \(1 detached\)/);
    expect(run.stdout).toMatch(/every healthy session still open: true/);
    expect(run.stdout).toMatch(/closed with 4029 MANAGER_LIMIT_REACHED/);
    expect(run.stdout).toMatch(/healthy sessions still open: 20 of 20/);
  });
});
