/**
 * The registry answered, but with an error: a bug (a script error, data it cannot read), not an
 * outage. Admissions it affects close with 1011; it is logged with its message and counted
 * (`ws_manager_registry_errors_total`), and `/health` does not turn red for it.
 */
export class RegistryReplyError extends Error {
  /** Stable machine-readable code, also the close reason. */
  readonly code = 'REGISTRY_ERROR';

  constructor(
    /** The registry operation that failed (`admit`, `remove`, …). */
    readonly operation: string,
    override readonly cause: unknown,
  ) {
    super(`The WebSocket manager registry failed on ${operation}: ${cause instanceof Error ? cause.message : String(cause)}; this is a bug, please report it`);
    this.name = 'RegistryReplyError';
  }
}
