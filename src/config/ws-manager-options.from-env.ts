import { z } from 'zod';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import type { WsManagerOptions } from './ws-manager.options.js';
import { resolveWsManagerOptions } from './ws-manager.schema.js';

type EnvOptionKey = Exclude<keyof WsManagerOptions, 'identityResolver'>;

const int = z.string().regex(/^-?\d+$/, 'must be a whole number').transform(Number);
const list = z.string().transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));
const text = z.string();

/** Every `WS_*` variable this module reads, the option it sets and how its string is coerced. */
export const WS_ENV_VARIABLES: Readonly<Record<string, readonly [EnvOptionKey, z.ZodType]>> = {
  WS_PATH: ['path', text],
  WS_ALLOWED_ORIGINS: ['allowedOrigins', list],
  WS_MAX_PAYLOAD_BYTES: ['maxPayloadBytes', int],
  WS_MAX_MANAGERS_PER_USER: ['maxManagersPerUser', int],
  WS_MAX_CONNECTIONS_PER_MANAGER: ['maxConnectionsPerManager', int],
  WS_HEARTBEAT_INTERVAL_MS: ['heartbeatIntervalMs', int],
  WS_HEARTBEAT_TIMEOUT_MS: ['heartbeatTimeoutMs', int],
  WS_PROBE_TIMEOUT_MS: ['probeTimeoutMs', int],
  WS_RESUME_WINDOW_MS: ['resumeWindowMs', int],
  WS_RESUME_BUFFER: ['resumeBuffer', int],
  WS_RESUME_BUFFER_BYTES: ['resumeBufferBytes', int],
  WS_MAX_BUFFERED_BYTES: ['maxBufferedBytes', int],
  WS_INBOUND_RATE_PER_CONNECTION: ['inboundRatePerConnection', int],
  WS_INBOUND_BURST_PER_CONNECTION: ['inboundBurstPerConnection', int],
  WS_INBOUND_RATE_PER_USER: ['inboundRatePerUser', int],
  WS_INBOUND_BURST_PER_USER: ['inboundBurstPerUser', int],
  WS_IDLE_THRESHOLD_MS: ['idleThresholdMs', int],
  WS_INACTIVE_THRESHOLD_MS: ['inactiveThresholdMs', int],
  WS_CLEANUP_CRON: ['cleanupCron', text],
  WS_MAX_CLEANUP_LEVEL: ['maxCleanupLevel', text],
  WS_SHUTDOWN_TIMEOUT_MS: ['shutdownTimeoutMs', int],
  WS_REGISTRY: ['registry', text],
  WS_REDIS_URL: ['redisUrl', text],
  WS_REDIS_KEY_PREFIX: ['redisKeyPrefix', text],
  WS_NODE_ID: ['nodeId', text],
  WS_LEASE_TTL_MS: ['leaseTtlMs', int],
  WS_REGISTRY_TIMEOUT_MS: ['registryTimeoutMs', int],
  WS_SWEEP_SLICE_SIZE: ['sweepSliceSize', int],
  WS_ALARM_THRESHOLD: ['alarmThreshold', int],
  WS_ALARM_WINDOW_MS: ['alarmWindowMs', int],
};

/**
 * Parses and validates the `WS_*` environment variables into module options. Unset or empty
 * variables take their defaults. A bad value throws {@link InvalidOptionsError} naming the
 * variable, the value and the rule, so the application fails at start-up, not at the first socket.
 *
 * @example WebSocketManagerModule.forRoot(wsManagerOptionsFromEnv(process.env))
 */
export function wsManagerOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): WsManagerOptions {
  const options: Record<string, unknown> = {};
  const raw: Record<string, unknown> = {};
  const issues: InvalidOptionsError['issues'][number][] = [];
  const varOf = new Map<string, string>();
  for (const [variable, [key, coerce]] of Object.entries(WS_ENV_VARIABLES)) {
    varOf.set(key, variable);
    const value = env[variable];
    if (value === undefined || value.trim() === '') continue;
    raw[key] = value;
    const parsed = coerce.safeParse(value.trim());
    if (parsed.success) options[key] = parsed.data;
    else issues.push({ name: variable, value, rule: parsed.error.issues[0]?.message ?? 'invalid' });
  }
  if (issues.length > 0) throw new InvalidOptionsError(issues);
  try {
    resolveWsManagerOptions(options as WsManagerOptions);
  } catch (error) {
    if (error instanceof InvalidOptionsError) {
      throw new InvalidOptionsError(
        error.issues.map((i) => ({ name: varOf.get(i.name) ?? i.name, value: raw[i.name] ?? i.value, rule: toVariableNames(i.rule, varOf) })),
      );
    }
    throw error;
  }
  return options as WsManagerOptions;
}

/** Rules that mention another option (`≥ idleThresholdMs`) name its variable instead. */
function toVariableNames(rule: string, varOf: ReadonlyMap<string, string>): string {
  let named = rule;
  for (const [key, variable] of varOf) {
    if (/[A-Z]/.test(key)) named = named.replace(new RegExp(`\\b${key}\\b`, 'g'), variable);
  }
  return named;
}
