import { validateCronExpression } from 'cron';
import { z } from 'zod';
import { CLEANUP_LEVELS, type CleanupLevel } from '../cleanup/cleanup-level.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import type { ManagerRegistry } from '../registry/manager-registry.interface.js';
import { parseRedisUrl, REDIS_URL_RULE } from '../registry/redis/redis-url.js';
import { defaultNodeId, WS_MANAGER_DEFAULTS as D } from './ws-manager.defaults.js';
import type { ResolvedWsManagerOptions, WsManagerOptions } from './ws-manager.options.js';

const ms = (min: number) => z.number().int().min(min).max(2_147_483_647);
const count = (min: number) => z.number().int().min(min).max(1_000_000);

function isRedisUrl(value: string): boolean {
  try {
    parseRedisUrl(value);
    return true;
  } catch {
    return false;
  }
}

function isRegistryInstance(value: unknown): value is ManagerRegistry {
  return typeof value === 'object' && value !== null && typeof (value as ManagerRegistry).admit === 'function';
}

/** Validation rules of every option; defaults come from {@link WS_MANAGER_DEFAULTS}. */
export const wsManagerOptionsSchema = z
  .object({
    path: z.string().regex(/^\/[^\s?#]*$/, 'must start with "/" and contain no spaces, "?" or "#"').default(D.path),
    allowedOrigins: z.array(z.string().min(1)).default(D.allowedOrigins),
    maxPayloadBytes: z.number().int().min(64).max(100 * 1024 * 1024).default(D.maxPayloadBytes),
    maxManagersPerUser: count(1).default(D.maxManagersPerUser),
    maxConnectionsPerManager: count(1).default(D.maxConnectionsPerManager),
    heartbeatIntervalMs: ms(10).default(D.heartbeatIntervalMs),
    heartbeatTimeoutMs: ms(10).default(D.heartbeatTimeoutMs),
    probeTimeoutMs: ms(1).max(60_000).default(D.probeTimeoutMs),
    resumeWindowMs: ms(0).default(D.resumeWindowMs),
    resumeBuffer: count(0).default(D.resumeBuffer),
    resumeBufferBytes: z.number().int().min(0).max(1024 * 1024 * 1024).default(D.resumeBufferBytes),
    maxBufferedBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(D.maxBufferedBytes),
    inboundRatePerConnection: count(0).default(D.inboundRatePerConnection),
    inboundBurstPerConnection: count(1).default(D.inboundBurstPerConnection),
    inboundRatePerUser: count(0).default(D.inboundRatePerUser),
    inboundBurstPerUser: count(1).default(D.inboundBurstPerUser),
    idleThresholdMs: ms(1).default(D.idleThresholdMs),
    inactiveThresholdMs: ms(1).default(D.inactiveThresholdMs),
    cleanupCron: z
      .string()
      .refine((v) => v.trim().split(/\s+/).length === 6 && validateCronExpression(v).valid, {
        message: 'must be a valid 6-field cron expression (with seconds), e.g. "*/30 * * * * *"',
      })
      .default(D.cleanupCron),
    maxCleanupLevel: z.enum(CLEANUP_LEVELS as [CleanupLevel, ...CleanupLevel[]]).default(D.maxCleanupLevel),
    shutdownTimeoutMs: ms(0).default(D.shutdownTimeoutMs),
    registry: z
      .union([z.enum(['memory', 'redis']), z.custom<ManagerRegistry>(isRegistryInstance)], {
        error: 'must be "memory", "redis" or a ManagerRegistry instance',
      })
      .default(D.registry),
    redisUrl: z.string().refine(isRedisUrl, { message: REDIS_URL_RULE }).default(D.redisUrl),
    redisKeyPrefix: z
      .string()
      .max(64)
      .regex(/^[^{}]*$/, 'must not contain "{" or "}" (a hash tag in the prefix would put every key in one Redis Cluster slot)')
      .default(D.redisKeyPrefix),
    nodeId: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1-128 characters of [A-Za-z0-9._:-]')
      .default(defaultNodeId),
    leaseTtlMs: ms(1000).default(D.leaseTtlMs),
    registryTimeoutMs: ms(10).max(600_000).default(D.registryTimeoutMs),
    sweepSliceSize: count(1).default(D.sweepSliceSize),
    alarmThreshold: count(1).default(D.alarmThreshold),
    alarmWindowMs: ms(1).default(D.alarmWindowMs),
    identityResolver: z
      .custom<NonNullable<WsManagerOptions['identityResolver']>>(
        (v) => typeof v === 'function' || typeof v === 'symbol' || (typeof v === 'string' && v.length > 0),
        'must be a function (request) => userId | { userId, limit } | null, an injectable class with resolve(request), or a provider token',
      )
      .optional(),
    metricsRegistry: z
      .custom<NonNullable<WsManagerOptions['metricsRegistry']>>(
        (v) => typeof v === 'object' && v !== null && typeof (v as { getSingleMetric?: unknown }).getSingleMetric === 'function',
        'must be a prom-client Registry',
      )
      .optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.inactiveThresholdMs < o.idleThresholdMs) {
      ctx.addIssue({ code: 'custom', path: ['inactiveThresholdMs'], message: `must be ≥ idleThresholdMs (${o.idleThresholdMs})` });
    }
    // Otherwise one frame of the largest allowed size could never be answered.
    if (o.maxBufferedBytes < o.maxPayloadBytes) {
      ctx.addIssue({ code: 'custom', path: ['maxBufferedBytes'], message: `must be ≥ maxPayloadBytes (${o.maxPayloadBytes})` });
    }
  });

/** Turns zod issues into {@link InvalidOptionsError}, naming each field by `nameOf(key)`. */
export function toInvalidOptionsError(
  error: z.ZodError,
  input: Record<string, unknown>,
  nameOf: (key: string) => string = (k) => k,
): InvalidOptionsError {
  return new InvalidOptionsError(
    error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '(options)');
      const message = issue.code === 'unrecognized_keys' ? `unknown option(s) ${issue.keys.join(', ')}` : issue.message;
      return { name: nameOf(key), value: input[key], rule: message };
    }),
  );
}

/**
 * Applies defaults and validates. Throws {@link InvalidOptionsError} naming each bad option,
 * its value and the rule; the result is what every service of the module is given.
 */
export function resolveWsManagerOptions(options: WsManagerOptions = {}): ResolvedWsManagerOptions {
  const parsed = wsManagerOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw toInvalidOptionsError(parsed.error, options as Record<string, unknown>);
  }
  return parsed.data as ResolvedWsManagerOptions;
}
