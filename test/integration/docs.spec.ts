import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WS_ENV_VARIABLES, WS_MANAGER_DEFAULTS } from '../../src/index.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const APP_VARIABLES = ['PORT', 'WS_JWT_SECRET', 'WS_ADMIN_TOKEN'];

// The README and .env.example promise every variable and its default; they must not drift.
describe('documentation', () => {
  const readme = read('README.md');
  const envExample = read('.env.example');

  it('README config table lists every variable with its default', () => {
    for (const [variable, [key]] of Object.entries(WS_ENV_VARIABLES)) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${variable}\` |`));
      expect(row, variable).toBeDefined();
      const value = WS_MANAGER_DEFAULTS[key as keyof typeof WS_MANAGER_DEFAULTS];
      const shown = value === undefined ? 'hostname-pid' : Array.isArray(value) ? 'empty' : `\`${String(value)}\``;
      expect(row, variable).toContain(shown);
    }
    for (const variable of APP_VARIABLES) expect(readme).toContain(`| \`${variable}\` |`);
  });

  it('.env.example lists every variable', () => {
    for (const variable of [...Object.keys(WS_ENV_VARIABLES), ...APP_VARIABLES]) {
      expect(envExample, variable).toMatch(new RegExp(`^${variable}=`, 'm'));
    }
  });

  it('README opens with the two commands a newcomer runs', () => {
    const firstBlock = /```bash\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(firstBlock).toContain('npm ci && npm start');
    expect(firstBlock).toContain('npm test');
  });
});

describe('README client snippets', () => {
  const readme = read('README.md');
  const snippet = (path: string) => {
    const body = read(path).split('// snippet:start\n')[1]!.split('// snippet:end')[0]!.trimEnd().split('\n');
    const indent = Math.min(...body.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
    return body.map((l) => l.slice(indent)).join('\n');
  };

  it('quotes the browser snippet that the browser test runs, verbatim', () => {
    expect(readme).toContain(snippet('example/public/client.html'));
  });

  it('quotes the Node snippet that the node-client test runs, verbatim', () => {
    expect(readme).toContain(snippet('example/node-client.ts'));
  });
});
