import { hostname } from 'node:os';
import { CleanupLevel } from '../cleanup/cleanup-level.js';

/** The one source of every default; the schema, the env parser and the README refer to it. */
export const WS_MANAGER_DEFAULTS = {
  path: '/ws',
  allowedOrigins: [] as string[],
  maxPayloadBytes: 65_536,
  maxManagersPerUser: 20,
  maxConnectionsPerManager: 5,
  heartbeatIntervalMs: 30_000,
  heartbeatTimeoutMs: 10_000,
  probeTimeoutMs: 1_000,
  resumeWindowMs: 120_000,
  resumeBuffer: 100,
  resumeBufferBytes: 1_048_576,
  maxBufferedBytes: 1_048_576,
  inboundRatePerConnection: 100,
  inboundBurstPerConnection: 200,
  inboundRatePerUser: 300,
  inboundBurstPerUser: 600,
  idleThresholdMs: 300_000,
  inactiveThresholdMs: 3_600_000,
  cleanupCron: '*/30 * * * * *',
  maxCleanupLevel: CleanupLevel.Aggressive,
  shutdownTimeoutMs: 10_000,
  registry: 'memory',
  redisUrl: 'redis://127.0.0.1:6379',
  redisKeyPrefix: 'wsm:',
  leaseTtlMs: 15_000,
  registryTimeoutMs: 5_000,
  sweepSliceSize: 500,
  alarmThreshold: 3,
  alarmWindowMs: 600_000,
} as const;

/** Default node id: unique per process on a host. */
export function defaultNodeId(): string {
  return `${hostname()}-${process.pid}`;
}
