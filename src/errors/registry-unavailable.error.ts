/**
 * The manager registry (Redis in cluster mode) cannot be reached, so no admission can be decided
 * safely. Clients receive close code 1013 `REGISTRY_UNAVAILABLE` and should retry with backoff.
 */
export class RegistryUnavailableError extends Error {
  /** Stable machine-readable code, also the close reason. */
  readonly code = 'REGISTRY_UNAVAILABLE';

  constructor(override readonly cause?: unknown) {
    super('The WebSocket manager registry is unreachable; retry the connection with backoff');
    this.name = 'RegistryUnavailableError';
  }
}
