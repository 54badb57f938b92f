import { Controller, Get, Header, Res } from '@nestjs/common';
import { WebSocketManagerMetrics } from '../../src/index.js';

/** The reply methods used here (Express and Fastify both have them). */
interface ContentTypedReply {
  header(name: string, value: string): unknown;
}

/**
 * `GET /metrics`: every `ws_manager_*` metric and the process metrics, in the Prometheus text
 * format. Public in the example; put it behind your network policy in production.
 */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: WebSocketManagerMetrics) {}

  /** The scrape endpoint. */
  @Get()
  @Header('Cache-Control', 'no-store')
  async scrape(@Res({ passthrough: true }) reply: ContentTypedReply): Promise<string> {
    reply.header('Content-Type', this.metrics.contentType);
    return this.metrics.metrics();
  }
}
