import { BadRequestException } from '@nestjs/common';
import type { HealthAssessment } from '../health/health-class.js';

/** One manager in the admin inventory (`GET …/users/:userId/managers`). */
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

/** Longest user id the admin API accepts; longer ones are answered 400. */
export const MAX_ADMIN_USER_ID_LENGTH = 512;
/** Longest manager id the admin API accepts. */
export const MAX_ADMIN_MANAGER_ID_LENGTH = 128;

// C0, DEL and C1 controls: the handshake refuses such user ids, so none can exist here.
// oxlint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

/** Validates an id taken from the URL; 400 with the rule when it cannot be a real id. */
export function adminIdOrThrow(name: 'userId' | 'managerId', value: string): string {
  const max = name === 'userId' ? MAX_ADMIN_USER_ID_LENGTH : MAX_ADMIN_MANAGER_ID_LENGTH;
  if (value.length === 0 || value.length > max || CONTROL.test(value)) {
    throw new BadRequestException(`${name} must be 1-${max} characters without control characters`);
  }
  return value;
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
