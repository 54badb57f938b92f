/**
 * A user id the module cannot store or log safely: empty, longer than 256 code units, not
 * well-formed Unicode (a lone surrogate), or holding control, line-separator, bidi or zero-width
 * characters. The handshake refuses such ids with HTTP 400 before any socket exists; the factory
 * throws this for a direct `acquire` with one.
 */
export class InvalidUserIdError extends Error {
  /** Stable machine-readable code. */
  readonly code = 'INVALID_USER_ID';

  constructor() {
    super('Invalid user id: use 1-256 characters of well-formed Unicode without control, bidi or zero-width characters');
    this.name = 'InvalidUserIdError';
  }
}
