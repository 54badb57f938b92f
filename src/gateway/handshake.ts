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

/** A query is `Tagged[QUERY]`: its raw text when that is already its decoded form, else the parsed parameters. */
type Tagged = IncomingMessage & { [HANDSHAKE]?: Handshake; [QUERY]?: URLSearchParams | string };

/**
 * Printable ASCII without `%` and `+`: form-urlencoded text with nothing to decode, so splitting
 * it on `&` and the first `=` is exactly what `URLSearchParams` makes of it.
 */
const VERBATIM_QUERY = /^[!-$&-*,-~]*$/;

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
  return queryParam(request, 'token') || undefined;
}

/**
 * The first value of query parameter `name` of an upgrade request (`null`: absent), as
 * `new URL(...).searchParams.get(name)` reads it, of the part between `?` and any `#`. Read once
 * per request (the identity step and the context check both ask) and without building a URL;
 * a query with nothing to decode (a JWT and a context are such) is not even parsed into
 * `URLSearchParams`.
 */
export function queryParam(request: IncomingMessage, name: string): string | null {
  const tagged = request as Tagged;
  let query = tagged[QUERY];
  if (query === undefined) {
    const url = request.url ?? '';
    const hash = url.indexOf('#');
    const target = hash < 0 ? url : url.slice(0, hash);
    const start = target.indexOf('?');
    const text = start < 0 ? '' : target.slice(start + 1);
    query = tagged[QUERY] = VERBATIM_QUERY.test(text) ? text : new URLSearchParams(text);
  }
  return typeof query === 'string' ? verbatimParam(query, name) : query.get(name);
}

/** `new URLSearchParams(query).get(name)` for a query with nothing to decode. */
function verbatimParam(query: string, name: string): string | null {
  for (let start = 0; start < query.length; ) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    const equals = query.indexOf('=', start);
    const keyEnd = equals >= 0 && equals < end ? equals : end;
    if (end > start && keyEnd - start === name.length && query.startsWith(name, start)) return keyEnd === end ? '' : query.slice(keyEnd + 1, end);
    start = end + 1;
  }
  return null;
}
