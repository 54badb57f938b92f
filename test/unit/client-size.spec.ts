import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

// The browser bundle of nestjs-websocket-manager/client, from the built file (global setup runs
// tsc): what a bundler ships, minified, gzipped. Figures: `npx vitest run test/unit/client-size.spec.ts`.
describe('nestjs-websocket-manager/client bundle', () => {
  it('is under 4 KB minified and gzipped, with no import left (no runtime dependency)', async () => {
    const result = await build({
      entryPoints: [new URL('../../dist/src/client/index.js', import.meta.url).pathname],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      packages: 'external', // a package import would stay visible in the output instead of being inlined
    });
    const code = result.outputFiles[0]!.text;
    const gzipped = gzipSync(code, { level: 9 }).length;
    console.log(`client bundle: ${code.length} B minified, ${gzipped} B gzipped`);
    expect(gzipped).toBeLessThan(4096);
    expect(code).not.toMatch(/(?:^|[;}\n])\s*import\s*[\w{*"']|\bimport\(|\brequire\(/); // statements, not the error text
    expect(code).not.toContain('process.env');
  });
});
