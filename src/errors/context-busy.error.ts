/**
 * Connections to one context kept superseding each other across instances faster than an
 * admission could settle (a reconnect storm). Clients receive close code 1013 `CONTEXT_BUSY`
 * and should retry with backoff; the context ends up on exactly one instance.
 */
export class ContextBusyError extends Error {
  /** Stable machine-readable code, also the close reason. */
  readonly code = 'CONTEXT_BUSY';

  constructor(
    readonly userId: string,
    readonly context: string,
  ) {
    super(`Context ${JSON.stringify(context)} is being taken over by another connection; retry with backoff`);
    this.name = 'ContextBusyError';
  }
}
