/** A context id outside 1–64 characters of `[A-Za-z0-9._:-]`. The handshake answers HTTP 400. */
export class InvalidContextError extends Error {
  /** Stable machine-readable code. */
  readonly code = 'INVALID_CONTEXT';

  constructor(readonly context: string) {
    super(`Invalid context ${JSON.stringify(context.slice(0, 80))}: use 1-64 characters of [A-Za-z0-9._:-]`);
    this.name = 'InvalidContextError';
  }
}
