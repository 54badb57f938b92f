import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

// The browser bundle of nestjs-websocket-manager/client, from the built file (global setup runs
// tsc): what a bundler ships, minified, gzipped. Figures: `npx vitest run test/unit/client-size.spec.ts`.
describe('nestjs-websocket-manager/client package', () => {
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

  it('is the package subpath ./client (types + default), and npm pack ships both files', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { exports: Record<string, { types: string; default: string }> };
    expect(pkg.exports['./client']).toEqual({ types: './dist/src/client/index.d.ts', default: './dist/src/client/index.js' });
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8' })) as { files: { path: string }[] }[];
    const files = packed!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['dist/src/client/index.js', 'dist/src/client/index.d.ts', 'dist/src/client/websocket-client.js']));
  });
});
