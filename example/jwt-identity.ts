import { webcrypto } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { bearerTokenOf, type IdentityResolver } from '../src/index.js';

const encoder = new TextEncoder();

/**
 * Identity from an HS256 JWT (`?token=` or `Authorization: Bearer`): the user is its `sub`.
 * A missing, malformed, badly signed or expired token resolves to `null` (HTTP 401).
 */
export function jwtIdentityResolver(secret: string): IdentityResolver {
  // Imported once: a raw secret would be re-imported into WebCrypto on every handshake.
  const key = hmacKey(secret);
  return async (request) => {
    const token = bearerTokenOf(request);
    if (!token) return null;
    try {
      const { payload } = await jwtVerify(token, await key, { algorithms: ['HS256'] });
      return typeof payload.sub === 'string' && payload.sub.length > 0 ? payload.sub : null;
    } catch {
      return null;
    }
  };
}

/** Signs an HS256 token for `userId`, valid for `expiresIn` (a jose time span, e.g. `'12h'`). */
export function signUserToken(secret: string, userId: string, expiresIn: string | number = '12h'): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(userId).setIssuedAt().setExpirationTime(expiresIn).sign(encoder.encode(secret));
}

/** The HS256 verification key of `secret`, as a WebCrypto key. */
export function hmacKey(secret: string): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
}
