import { Get, Header, Injectable, Res } from '@nestjs/common';
import { WebSocketManagerMetrics } from '../metrics/websocket-manager.metrics.js';

/** The reply methods used here (Express and Fastify both have them). */
interface ContentTypedReply {
  header(name: string, value: string): unknown;
}

/**
 * The Prometheus scrape endpoint, mounted at the module's `metricsPath` (default `/metrics`).
 * Not behind the admin guard, as scrapers rarely carry tokens: keep it behind your network policy.
 */
// @Injectable only so that its constructor types are emitted; the module mounts a subclass with @Controller(metricsPath).
@Injectable()
export class AdminMetricsController {
  constructor(private readonly metrics: WebSocketManagerMetrics) {}

  /** Every `ws_manager_*` metric (and the process metrics of the module's registry). */
  @Get()
  @Header('Cache-Control', 'no-store')
  async scrape(@Res({ passthrough: true }) reply: ContentTypedReply): Promise<string> {
    reply.header('Content-Type', this.metrics.contentType);
    return this.metrics.metrics();
  }
}
