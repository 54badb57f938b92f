import { spawnSync } from 'node:child_process';

// Suites that run the example app or the benchmark as real processes need dist/ built from
// this checkout; build once before any test file runs. tsc emits even with type errors, so
// locally a half-edited file elsewhere only warns; in CI (and in `npm run typecheck`) it fails.
export default function setup(): void {
  const result = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  if (result.status !== 0) {
    if (process.env.CI) throw new Error('tsc -p tsconfig.build.json failed');
    console.warn('warning: the build reported type errors; dist/ was emitted anyway');
  }
}
