import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The dashboard's files, as served. */
export interface DashboardAssets {
  html: string;
  js: string;
  css: string;
}

/**
 * Where the dashboard's files are: `src/admin/dashboard/` beside this module when it runs from the
 * TypeScript sources, and the same folder of the package (`files` ships `src/admin/dashboard`)
 * when it runs compiled from `dist/src/admin/`. No build step copies them.
 */
function dashboardDir(): string {
  const candidates = [new URL('./dashboard/', import.meta.url), new URL('../../../src/admin/dashboard/', import.meta.url)].map((u) => fileURLToPath(u));
  const found = candidates.find((dir) => existsSync(`${dir}index.html`));
  if (!found) throw new Error(`nestjs-websocket-manager: the admin dashboard files are missing; looked in ${candidates.join(', ')}`);
  return found;
}

/**
 * The page pointed at the mount point it was requested under (`/admin`, or `/api/admin` behind a
 * global prefix): every `%BASE%` of the template, HTML-escaped.
 */
export function renderDashboardPage(template: string, requestPath: string): string {
  const base = (requestPath.split('?')[0] ?? '').replace(/\/+$/, '');
  return template.replaceAll('%BASE%', escapeAttribute(base));
}

const escapeAttribute = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Reads the dashboard's files (once, at start-up: a missing file fails the start, not a request). */
export function loadDashboardAssets(): DashboardAssets {
  const dir = dashboardDir();
  return {
    html: readFileSync(`${dir}index.html`, 'utf8'),
    js: readFileSync(`${dir}dashboard.js`, 'utf8'),
    css: readFileSync(`${dir}dashboard.css`, 'utf8'),
  };
}

/**
 * The Content-Security-Policy of the dashboard: its own script and style files only, requests
 * to its own origin only, no inline code, no frames, no forms posting elsewhere.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
