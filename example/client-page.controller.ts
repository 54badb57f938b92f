import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Controller, Get, Header } from '@nestjs/common';

/**
 * Where `example/public/client.html` is: next to this file when it runs from `example/` (the
 * TypeScript source, as tests run it), two levels up when it runs compiled from `dist/example/`,
 * and under the working directory as a last resort.
 */
function clientPagePath(): string {
  const candidates = [
    fileURLToPath(new URL('./public/client.html', import.meta.url)),
    fileURLToPath(new URL('../../example/public/client.html', import.meta.url)),
    join(process.cwd(), 'example', 'public', 'client.html'),
  ];
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`example/public/client.html not found; looked in: ${candidates.join(', ')}`);
  return found;
}

/** `GET /client`: the browser snippet of the README as a page (`/client?token=JWT&context=CTX`). */
@Controller()
export class ClientPageController {
  /** Read once at start-up: a missing file fails the application's start, not a request. */
  private readonly html = readFileSync(clientPagePath(), 'utf8');

  @Get('client')
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  // The page's URL carries the token: never leak it in a Referer.
  @Header('Referrer-Policy', 'no-referrer')
  page(): string {
    return this.html;
  }
}
