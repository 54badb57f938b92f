import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  CleanupLevel,
  InMemoryManagerRegistry,
  InvalidOptionsError,
  resolveWsManagerOptions,
  WS_ENV_VARIABLES,
  WS_MANAGER_DEFAULTS,
  wsManagerOptionsFromEnv,
  type WsManagerOptions,
} from '../../src/index.js';

function thrown(fn: () => unknown): InvalidOptionsError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InvalidOptionsError);
  return caught as InvalidOptionsError;
}

describe('resolveWsManagerOptions', () => {
  it('applies every default from WS_MANAGER_DEFAULTS', () => {
    const resolved = resolveWsManagerOptions();
    expect(resolved).toEqual({ ...WS_MANAGER_DEFAULTS, nodeId: `${hostname()}-${process.pid}` });
    expect(resolveWsManagerOptions({})).toEqual(resolved);
  });

  it('keeps given values and fills in the rest', () => {
    const registry = new InMemoryManagerRegistry();
    const resolved = resolveWsManagerOptions({ maxManagersPerUser: 3, maxCleanupLevel: 'force', registry, nodeId: 'n-1' });
    expect(resolved).toMatchObject({ maxManagersPerUser: 3, maxCleanupLevel: CleanupLevel.Force, nodeId: 'n-1', path: '/ws' });
    expect(resolved.registry).toBe(registry);
  });

  it('does not share the default allowedOrigins array between resolutions', () => {
    const a = resolveWsManagerOptions();
    a.allowedOrigins.push('https://evil.example');
    expect(resolveWsManagerOptions().allowedOrigins).toEqual([]);
    expect(WS_MANAGER_DEFAULTS.allowedOrigins).toEqual([]);
  });

  const bad: [keyof WsManagerOptions, unknown][] = [
    ['path', 'ws'],
    ['path', '/ws?x'],
    ['allowedOrigins', ['']],
    ['maxPayloadBytes', 10],
    ['maxManagersPerUser', 0],
    ['maxManagersPerUser', 2.5],
    ['maxConnectionsPerManager', -1],
    ['heartbeatIntervalMs', 5],
    ['heartbeatTimeoutMs', 0],
    ['probeTimeoutMs', 120_000],
    ['resumeWindowMs', -1],
    ['resumeBuffer', -5],
    ['idleThresholdMs', 0],
    ['cleanupCron', '* * * * *'],
    ['cleanupCron', 'every minute'],
    ['maxCleanupLevel', 'nuclear'],
    ['shutdownTimeoutMs', -1],
    ['registry', 'postgres'],
    ['registry', {}],
    ['redisUrl', 'http://localhost'],
    ['nodeId', 'has space'],
    ['leaseTtlMs', 10],
    ['sweepSliceSize', 0],
    ['alarmThreshold', 0],
    ['alarmWindowMs', 0],
    ['identityResolver', 42], // a function, a class or a token (string/symbol): not a number
  ];

  it.each(bad)('rejects %s = %j with InvalidOptionsError naming the option', (name, value) => {
    const error = thrown(() => resolveWsManagerOptions({ [name]: value } as WsManagerOptions));
    expect(error.code).toBe('WS_INVALID_OPTIONS');
    expect(error.issues).toEqual([expect.objectContaining({ name, value, rule: expect.any(String) })]);
    expect(error.issues[0]!.rule).not.toMatch(/^Invalid input$/);
    expect(error.message).toContain(`${name}=`);
  });

  it('rejects inactiveThresholdMs below idleThresholdMs', () => {
    const error = thrown(() => resolveWsManagerOptions({ idleThresholdMs: 2000, inactiveThresholdMs: 1000 }));
    expect(error.issues).toEqual([{ name: 'inactiveThresholdMs', value: 1000, rule: expect.stringContaining('idleThresholdMs') }]);
  });

  it('rejects maxBufferedBytes below maxPayloadBytes', () => {
    const error = thrown(() => resolveWsManagerOptions({ maxPayloadBytes: 65_536, maxBufferedBytes: 4096 }));
    expect(error.issues).toEqual([{ name: 'maxBufferedBytes', value: 4096, rule: expect.stringContaining('maxPayloadBytes') }]);
  });

  it('rejects unknown options', () => {
    const error = thrown(() => resolveWsManagerOptions({ maxManagers: 5 } as WsManagerOptions));
    expect(error.issues[0]!.rule).toContain('maxManagers');
  });

  it('reports every bad option at once', () => {
    const error = thrown(() => resolveWsManagerOptions({ maxManagersPerUser: 0, path: 'x' }));
    expect(error.issues.map((i) => i.name).sort()).toEqual(['maxManagersPerUser', 'path']);
  });
});

describe('wsManagerOptionsFromEnv', () => {
  // One valid string per variable and the option value it must become.
  const samples: Record<string, [string, unknown]> = {
    WS_PATH: ['/sockets', '/sockets'],
    WS_ALLOWED_ORIGINS: [' https://a.example , https://b.example ,', ['https://a.example', 'https://b.example']],
    WS_MAX_PAYLOAD_BYTES: ['1024', 1024],
    WS_MAX_MANAGERS_PER_USER: ['7', 7],
    WS_MAX_CONNECTIONS_PER_MANAGER: ['2', 2],
    WS_HEARTBEAT_INTERVAL_MS: ['15000', 15_000],
    WS_HEARTBEAT_TIMEOUT_MS: ['5000', 5000],
    WS_PROBE_TIMEOUT_MS: ['250', 250],
    WS_RESUME_WINDOW_MS: ['0', 0],
    WS_RESUME_BUFFER: ['10', 10],
    WS_RESUME_BUFFER_BYTES: ['4096', 4096],
    WS_MAX_BUFFERED_BYTES: ['131072', 131_072],
    WS_INBOUND_RATE_PER_CONNECTION: ['0', 0],
    WS_INBOUND_BURST_PER_CONNECTION: ['5', 5],
    WS_INBOUND_RATE_PER_USER: ['50', 50],
    WS_INBOUND_BURST_PER_USER: ['80', 80],
    WS_IDLE_THRESHOLD_MS: ['60000', 60_000],
    WS_INACTIVE_THRESHOLD_MS: ['7200000', 7_200_000],
    WS_CLEANUP_CRON: ['*/5 * * * * *', '*/5 * * * * *'],
    WS_MAX_CLEANUP_LEVEL: ['force', 'force'],
    WS_SHUTDOWN_TIMEOUT_MS: ['2500', 2500],
    WS_REGISTRY: ['redis', 'redis'],
    WS_REDIS_URL: ['rediss://cache:6380/1', 'rediss://cache:6380/1'],
    WS_REDIS_KEY_PREFIX: ['app1:', 'app1:'],
    WS_NODE_ID: ['node-7', 'node-7'],
    WS_LEASE_TTL_MS: ['30000', 30_000],
    WS_REGISTRY_TIMEOUT_MS: ['2500', 2500],
    WS_SWEEP_SLICE_SIZE: ['50', 50],
    WS_ALARM_THRESHOLD: ['9', 9],
    WS_ALARM_WINDOW_MS: ['1000', 1000],
  };

  it('has a sample for every variable it reads', () => {
    expect(Object.keys(samples).sort()).toEqual(Object.keys(WS_ENV_VARIABLES).sort());
  });

  it.each(Object.entries(WS_ENV_VARIABLES))('parses %s into its option', (variable, [key]) => {
    const [raw, expected] = samples[variable]!;
    const options = wsManagerOptionsFromEnv({ [variable]: raw });
    expect(options).toEqual({ [key]: expected });
    expect(resolveWsManagerOptions(options)[key]).toEqual(expected);
  });

  it('parses every variable together', () => {
    const env = Object.fromEntries(Object.entries(samples).map(([v, [raw]]) => [v, raw]));
    const options = wsManagerOptionsFromEnv(env);
    for (const [variable, [key]] of Object.entries(WS_ENV_VARIABLES)) expect(options[key]).toEqual(samples[variable]![1]);
  });

  it('treats unset, empty and blank variables as defaults', () => {
    expect(wsManagerOptionsFromEnv({})).toEqual({});
    const blank = Object.fromEntries(Object.keys(WS_ENV_VARIABLES).map((v, i) => [v, i % 2 ? '' : '   ']));
    expect(wsManagerOptionsFromEnv(blank)).toEqual({});
    expect(resolveWsManagerOptions(wsManagerOptionsFromEnv(blank))).toEqual(resolveWsManagerOptions());
  });

  it('ignores variables it does not own', () => {
    expect(wsManagerOptionsFromEnv({ PORT: '3000', WS_JWT_SECRET: 's', HOME: '/root' })).toEqual({});
  });

  const badEnv: [string, string, RegExp][] = [
    ['WS_MAX_MANAGERS_PER_USER', 'abc', /whole number/],
    ['WS_MAX_MANAGERS_PER_USER', '0', />=\s*1/],
    ['WS_MAX_MANAGERS_PER_USER', '2.5', /whole number/],
    ['WS_HEARTBEAT_INTERVAL_MS', '30s', /whole number/],
    ['WS_CLEANUP_CRON', 'nope', /cron/],
    ['WS_CLEANUP_CRON', '*/30 * * * *', /6-field/],
    ['WS_MAX_CLEANUP_LEVEL', 'nuclear', /conservative.*force/],
    ['WS_REGISTRY', 'postgres', /memory.*redis/],
    ['WS_REDIS_URL', 'localhost:6379', /redis:\/\//],
    ['WS_PATH', 'ws', /start with "\/"/],
    ['WS_NODE_ID', 'a b', /A-Za-z0-9/],
  ];

  it.each(badEnv)('rejects %s=%s naming the variable, the value and the rule', (variable, value, rule) => {
    const error = thrown(() => wsManagerOptionsFromEnv({ [variable]: value }));
    expect(error.issues).toEqual([{ name: variable, value, rule: expect.stringMatching(rule) }]);
    expect(error.message).toContain(`${variable}=${JSON.stringify(value)}`);
    expect(error.message).toMatch(rule);
  });

  it('rejects WS_INACTIVE_THRESHOLD_MS below WS_IDLE_THRESHOLD_MS, naming the variables', () => {
    const error = thrown(() => wsManagerOptionsFromEnv({ WS_IDLE_THRESHOLD_MS: '60000', WS_INACTIVE_THRESHOLD_MS: '1000' }));
    expect(error.issues).toEqual([{ name: 'WS_INACTIVE_THRESHOLD_MS', value: '1000', rule: expect.stringContaining('WS_IDLE_THRESHOLD_MS') }]);
    expect(error.message).toContain('WS_INACTIVE_THRESHOLD_MS="1000"');
  });

  it('rejects WS_MAX_BUFFERED_BYTES below WS_MAX_PAYLOAD_BYTES, naming the variables', () => {
    const error = thrown(() => wsManagerOptionsFromEnv({ WS_MAX_BUFFERED_BYTES: '2048' }));
    expect(error.issues).toEqual([{ name: 'WS_MAX_BUFFERED_BYTES', value: '2048', rule: expect.stringContaining('WS_MAX_PAYLOAD_BYTES') }]);
  });

  it('reports every bad variable at once', () => {
    const error = thrown(() => wsManagerOptionsFromEnv({ WS_RESUME_BUFFER: 'x', WS_PROBE_TIMEOUT_MS: 'y' }));
    expect(error.issues.map((i) => i.name).sort()).toEqual(['WS_PROBE_TIMEOUT_MS', 'WS_RESUME_BUFFER']);
  });
});
