import type { IncomingMessage } from 'node:http';

/**
 * Resolves the authenticated user of a WebSocket upgrade request, before any socket exists.
 * Return the user id, or `null` to refuse the handshake with HTTP 401. Never trust a
 * client-supplied user field: derive the id from verified credentials (a JWT `sub`, a session).
 */
export type IdentityResolver = (request: IncomingMessage) => string | null | Promise<string | null>;
