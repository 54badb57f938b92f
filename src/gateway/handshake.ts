import type { IncomingMessage } from 'node:http';

/** What the upgrade handshake established, before the socket existed. */
export interface Handshake {
  /** Authenticated user id, from the identity resolver. */
  userId: string;
  /** The requested context; `undefined`: a fresh one is made. */
  context?: string;
  /** This user's own limit from the identity step; `undefined`: the `maxManagersPerUser` option. */
  limit?: number;
}

const HANDSHAKE = Symbol('nestjs-websocket-manager.handshake');

/** Attaches the handshake outcome to the upgrade request. */
export function setHandshake(request: IncomingMessage, handshake: Handshake): void {
  (request as IncomingMessage & { [HANDSHAKE]?: Handshake })[HANDSHAKE] = handshake;
}

/** The handshake outcome of an upgrade request admitted by `WebSocketManagerAdapter`. */
export function handshakeOf(request: IncomingMessage | undefined): Handshake | undefined {
  return (request as (IncomingMessage & { [HANDSHAKE]?: Handshake }) | undefined)?.[HANDSHAKE];
}

/** Reads the bearer token from `?token=` or an `Authorization: Bearer` header. */
export function bearerTokenOf(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length).trim() || undefined;
  return new URL(request.url ?? '/', 'http://localhost').searchParams.get('token') || undefined;
}
