import { BadRequestException, Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import {
  CLEANUP_LEVELS,
  EmergencyCleanupService,
  HealthAssessmentService,
  isCleanupLevel,
  type CleanupReport,
  type HealthAssessment,
} from '../../src/index.js';
import { AdminTokenGuard } from './admin-token.guard.js';

/** One manager in the admin inventory. */
export interface ManagerInventoryEntry {
  managerId: string;
  context: string;
  /** `connected` while at least one socket is open (judged remotely: while not detached). */
  state: 'connected' | 'detached';
  /** Health class (`zombie`, `unresponsive`, `inactive`, `detached`, `idle`, `healthy`). */
  health: string;
  /** Reason codes behind the class. */
  reasons: string[];
  /** Open connections; `null` when another instance holds the manager. */
  connections: number | null;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms of the last inbound application message. */
  lastActivityAt: number;
  /** Instance holding the manager. */
  nodeId: string;
}

// User ids come from JWT `sub`; anything else here is a typo or an attempt to forge log lines.
const USER_ID = /^[\x21-\x7e]{1,256}$/;

function userIdOrThrow(userId: string): string {
  if (!USER_ID.test(userId)) throw new BadRequestException('userId must be 1-256 printable ASCII characters');
  return userId;
}

/** Maps a health assessment to its inventory entry. */
export function toInventoryEntry(a: HealthAssessment): ManagerInventoryEntry {
  const connected = a.openConnections === null ? a.detachedAt === null : a.openConnections > 0;
  return {
    managerId: a.managerId,
    context: a.context,
    state: connected ? 'connected' : 'detached',
    health: a.health,
    reasons: a.reasons,
    connections: a.openConnections,
    createdAt: a.createdAt,
    lastActivityAt: a.lastActivityAt,
    nodeId: a.nodeId,
  };
}

/**
 * The admin API, behind {@link AdminTokenGuard} (`Authorization: Bearer WS_ADMIN_TOKEN`; 404
 * when no token is configured): a user's managers with their health, and manual cleanup.
 */
@Controller('admin/users')
@UseGuards(AdminTokenGuard)
export class AdminController {
  constructor(
    private readonly health: HealthAssessmentService,
    private readonly cleanup: EmergencyCleanupService,
  ) {}

  /** `GET /admin/users/:userId/managers`: every manager of the user, in any instance. */
  @Get(':userId/managers')
  async managers(@Param('userId') userId: string): Promise<ManagerInventoryEntry[]> {
    const assessments = await this.health.assessUser(userIdOrThrow(userId));
    return assessments.map(toInventoryEntry);
  }

  /** `POST /admin/users/:userId/cleanup?level=LEVEL`: runs that level (and those below); 400 on a bad level. */
  @Post(':userId/cleanup')
  @HttpCode(200)
  cleanupUser(@Param('userId') userId: string, @Query('level') level: unknown): Promise<CleanupReport> {
    if (!isCleanupLevel(level)) {
      throw new BadRequestException(`level must be one of ${CLEANUP_LEVELS.join(', ')}`);
    }
    return this.cleanup.manual(userIdOrThrow(userId), level);
  }
}
