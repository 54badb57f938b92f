import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SOAK = fileURLToPath(new URL('../../dist/bench/soak.js', import.meta.url));
const SECONDS = 25;

/** Runs the built soak; resolves with its exit code and output. */
function runSoak(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SOAK, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => (output += String(chunk)));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

// On today's main (061a13f) this FAILS within the first few settled checks: after an instance
// freeze or a Redis stall, sockets stay open on managers the registry does not count (I3), the
// same symptoms as lease-lapse.spec.ts and registry-faults.spec.ts.
describe('soak (npm run soak, short)', () => {
  it(`holds I1 and I3 on every settled check of a ${SECONDS} s randomized run`, { timeout: 300_000 }, async () => {
    const seed = process.env.SOAK_SEED ?? String(Math.floor(Math.random() * 2 ** 31));
    const { code, output } = await runSoak(['--seed', seed, '--seconds', String(SECONDS)]);
    expect(output.split('\n')[0]).toContain(`seed=${seed}`);
    expect(code, output).toBe(0);
  });
});
