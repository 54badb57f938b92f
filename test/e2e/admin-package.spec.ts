import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The dashboard must work from the published package, not only from this checkout: pack it, unpack
// it elsewhere and load the page's files the way the installed module does.
describe('the packed package ships the admin dashboard', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsm-pack-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('contains the three dashboard files, and the compiled module finds them from its own location', async () => {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { encoding: 'utf8' })) as { filename: string; files: { path: string }[] }[];
    const files = packed!.files.map((f) => f.path);
    for (const file of ['src/admin/dashboard/index.html', 'src/admin/dashboard/dashboard.js', 'src/admin/dashboard/dashboard.css', 'dist/src/admin/websocket-manager-admin.module.js']) {
      expect(files).toContain(file);
    }
    // Only the page's files come from src/: no TypeScript sources are shipped.
    expect(files.filter((f) => f.startsWith('src/') && !f.startsWith('src/admin/dashboard/'))).toEqual([]);

    execFileSync('tar', ['xzf', join(dir, packed!.filename), '-C', dir]);
    const assets = (await import(pathToFileURL(join(dir, 'package/dist/src/admin/admin-dashboard.assets.js')).href)) as typeof import('../../src/admin/admin-dashboard.assets.js');
    const loaded = assets.loadDashboardAssets();
    expect(loaded.html).toContain('<meta name="wsm-admin-base" content="%BASE%">');
    expect(loaded.js).toContain('textContent');
    expect(assets.renderDashboardPage(loaded.html, '/api/admin/?x=1')).toContain('src="/api/admin/dashboard.js"');
  });
});
