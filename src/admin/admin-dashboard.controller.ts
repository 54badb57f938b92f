import { applyDecorators, Get, Header, Req, UseGuards } from '@nestjs/common';
import { AdminEnabledGuard } from './admin-access.guard.js';
import { DASHBOARD_CSP, loadDashboardAssets, renderDashboardPage } from './admin-dashboard.assets.js';

/** Headers of every dashboard answer: strict CSP, never sniffed, cached, framed or referred. */
const Served = (contentType: string) =>
  applyDecorators(
    Header('Content-Type', contentType),
    Header('Content-Security-Policy', DASHBOARD_CSP),
    Header('X-Content-Type-Options', 'nosniff'),
    Header('Referrer-Policy', 'no-referrer'),
    Header('Cache-Control', 'no-store'),
  );

/**
 * The dashboard page and its two files, under the module's `path`. Public whenever the admin
 * surface is enabled (they hold no data; the page asks for the token), 404 otherwise.
 */
@UseGuards(AdminEnabledGuard)
export class AdminDashboardController {
  private readonly assets = loadDashboardAssets();

  /** `GET <path>`: the page. */
  @Get()
  @Served('text/html; charset=utf-8')
  page(@Req() request: { originalUrl?: string; url: string }): string {
    return renderDashboardPage(this.assets.html, request.originalUrl ?? request.url);
  }

  /** `GET <path>/dashboard.js`. */
  @Get('dashboard.js')
  @Served('text/javascript; charset=utf-8')
  script(): string {
    return this.assets.js;
  }

  /** `GET <path>/dashboard.css`. */
  @Get('dashboard.css')
  @Served('text/css; charset=utf-8')
  style(): string {
    return this.assets.css;
  }
}
