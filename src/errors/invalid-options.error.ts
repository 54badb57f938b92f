/** One rejected option: where it came from, the value given and the rule it broke. */
export interface InvalidOptionIssue {
  /** The option key (`maxManagersPerUser`) or environment variable (`WS_MAX_MANAGERS_PER_USER`). */
  readonly name: string;
  /** The value that was given, as given. */
  readonly value: unknown;
  /** The rule the value broke, in words. */
  readonly rule: string;
}

/**
 * Options or environment variables failed validation at start-up. Thrown by
 * `wsManagerOptionsFromEnv` and by `WebSocketManagerModule.forRoot*` before any socket opens.
 */
export class InvalidOptionsError extends Error {
  /** Stable machine-readable code. */
  readonly code = 'WS_INVALID_OPTIONS';

  constructor(readonly issues: readonly InvalidOptionIssue[]) {
    super(
      `Invalid nestjs-websocket-manager configuration; fix these and restart:\n` +
        issues.map((i) => `  - ${i.name}=${JSON.stringify(i.value)}: ${i.rule}`).join('\n'),
    );
    this.name = 'InvalidOptionsError';
  }
}
