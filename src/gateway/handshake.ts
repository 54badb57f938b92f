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
const QUERY = Symbol('nestjs-websocket-manager.query');

type Tagged = IncomingMessage & { [HANDSHAKE]?: Handshake; [QUERY]?: URLSearchParams };

/** Attaches the handshake outcome to the upgrade request. */
export function setHandshake(request: IncomingMessage, handshake: Handshake): void {
  (request as Tagged)[HANDSHAKE] = handshake;
}

/** The handshake outcome of an upgrade request admitted by `WebSocketManagerAdapter`. */
export function handshakeOf(request: IncomingMessage | undefined): Handshake | undefined {
  return (request as Tagged | undefined)?.[HANDSHAKE];
}

/** Reads the bearer token from `?token=` or an `Authorization: Bearer` header. */
export function bearerTokenOf(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length).trim() || undefined;
  return queryOf(request).get('token') || undefined;
}

/**
 * The query parameters of an upgrade request, parsed once per request (the identity step and
 * the context check both read them) and without building a whole URL: the same WHATWG parsing
 * as `new URL(...).searchParams`, of the part between `?` and any `#`.
 */
export function queryOf(request: IncomingMessage): URLSearchParams {
  const tagged = request as Tagged;
  let query = tagged[QUERY];
  if (query === undefined) {
    const url = request.url ?? '';
    const hash = url.indexOf('#');
    const target = hash < 0 ? url : url.slice(0, hash);
    const start = target.indexOf('?');
    query = new URLSearchParams(start < 0 ? '' : target.slice(start + 1));
    tagged[QUERY] = query;
  }
  return query;
}
