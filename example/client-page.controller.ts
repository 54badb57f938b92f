import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Controller, Get, Header, NotFoundException, Param } from '@nestjs/common';

/** The first of `relatives` (to this file) that exists, else `cwd/fallback`; throws naming every place looked at. */
function locate(what: string, relatives: string[], fallback: string): string {
  const candidates = [...relatives.map((r) => fileURLToPath(new URL(r, import.meta.url))), join(process.cwd(), fallback)];
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`${what} not found; looked in: ${candidates.join(', ')} (run npm run build)`);
  return found;
}

// This file runs from `example/` (the TypeScript source, as tests run it) or compiled from
// `dist/example/`; the page is a source file, the SDK the compiled ESM of src/client.
const PAGE = locate('example/public/client.html', ['./public/client.html', '../../example/public/client.html'], 'example/public/client.html');
const SDK_DIR = locate('dist/src/client/', ['../src/client/index.js', '../dist/src/client/index.js'], 'dist/src/client/index.js').replace(/index\.js$/, '');

/** A module of the SDK: a bare file name, so that no request can leave SDK_DIR. */
const SDK_FILE = /^[a-z][a-z.-]*\.js$/;

/**
 * `GET /client`: the README's browser example as a page (`/client?token=JWT[&context=CTX]`), and
 * `GET /client/sdk/*.js`: `nestjs-websocket-manager/client` as the browser loads it, the ESM that
 * `tsc` wrote (no bare imports, so no bundler is needed).
 */
@Controller('client')
export class ClientPageController {
  /** Read once at start-up: a missing file fails the application's start, not a request. */
  private readonly html = readFileSync(PAGE, 'utf8');
  private readonly sdk = new Map<string, string>();

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  // The page's URL carries the token: never leak it in a Referer.
  @Header('Referrer-Policy', 'no-referrer')
  page(): string {
    return this.html;
  }

  @Get('sdk/:file')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  module(@Param('file') file: string): string {
    const path = join(SDK_DIR, file);
    if (!SDK_FILE.test(file) || !existsSync(path)) throw new NotFoundException();
    let source = this.sdk.get(file);
    if (source === undefined) this.sdk.set(file, (source = readFileSync(path, 'utf8').replace(/\n\/\/# sourceMappingURL=.*$/, '')));
    return source;
  }
}
