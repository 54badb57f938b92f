import { BadRequestException, Body, Controller, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { AdminAccessGuard, CONTEXT_PATTERN, isAcceptableUserId, MessageDeliveryService, type DeliveryResult } from '../src/index.js';

/** Body of `POST /admin/users/:userId/notify`. */
export interface NotifyBody {
  /** Event name of the frame the user's sockets receive. */
  event: string;
  /** Any JSON value, sent as the frame's `data`. */
  data?: unknown;
  /** Only the manager of this context; omitted: every manager of the user. */
  context?: string;
}

const EVENT = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Admin-only cross-instance notification: `POST /admin/users/:userId/notify` with
 * `{"event", "data", "context"?}` sends `{event, data}` to every socket of the user on every
 * instance (or to one context), and answers with the delivery result: how many sockets on how
 * many instances got it, how many detached managers buffered it, and which instances did not
 * confirm. Guarded by the admin module's guard: `Authorization: Bearer WS_ADMIN_TOKEN` (404 when no
 * token is configured).
 */
@Controller('admin/users/:userId/notify')
@UseGuards(AdminAccessGuard)
export class NotifyController {
  constructor(private readonly delivery: MessageDeliveryService) {}

  @Post()
  @HttpCode(200)
  notify(@Param('userId') userId: string, @Body() body: NotifyBody | undefined): Promise<DeliveryResult> {
    // The handshake's own rule: every id a session can have is reachable here, and no other.
    if (!isAcceptableUserId(userId)) throw new BadRequestException('userId must be 1-256 characters without control, bidi or zero-width characters');
    const { event, data = null, context } = body ?? ({} as Partial<NotifyBody>);
    if (typeof event !== 'string' || !EVENT.test(event)) throw new BadRequestException('event must be 1-64 characters of [A-Za-z0-9._:-]');
    if (context === undefined) return this.delivery.sendToUser(userId, event, data);
    if (typeof context !== 'string' || !CONTEXT_PATTERN.test(context)) throw new BadRequestException('context must be 1-64 characters of [A-Za-z0-9._:-]');
    return this.delivery.sendToContext(userId, context, event, data);
  }
}
