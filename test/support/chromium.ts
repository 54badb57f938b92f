import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** Flags for a headless Chromium in a container: no sandbox (root), no GPU, no network chatter. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

/** A Chromium to drive, or why there is none (only ever outside CI). */
export type ChromiumLookup = { executablePath: string; skipReason?: undefined } | { executablePath?: undefined; skipReason: string };

const INSTALL_HINT = 'install it with: apt-get install -y chromium (Debian), or set CHROMIUM_PATH';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the system Chromium: `$CHROMIUM_PATH`, `/usr/bin/chromium`, then `chromium` or
 * `chromium-browser` on the PATH. Missing in CI (`CI` set) throws: a browser test must never
 * pass by skipping there. Missing locally returns a `skipReason` for `describe.skipIf`.
 */
export function findChromium(): ChromiumLookup {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium'].filter((p): p is string => !!p);
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      candidates.push(execFileSync('which', [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    } catch {
      // not on the PATH
    }
  }
  const executablePath = candidates.find((path) => path && executable(path));
  if (executablePath) return { executablePath };
  const message = `Chromium not found (looked at ${candidates.join(', ') || '/usr/bin/chromium and the PATH'}): ${INSTALL_HINT}`;
  if (process.env.CI) throw new Error(`CI is set and the browser tests cannot run. ${message}`);
  console.warn(`\n  ⚠ skipping browser tests: ${message}\n`);
  return { skipReason: message };
}
