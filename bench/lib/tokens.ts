import { SignJWT } from 'jose';

/** Signs HS256 JWTs with `sub` = user id, as the example application expects; one per user, cached. */
export class TokenSigner {
  private readonly key: Uint8Array;
  private readonly cache = new Map<string, string>();

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async tokenFor(userId: string): Promise<string> {
    let token = this.cache.get(userId);
    if (token === undefined) {
      token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(userId)
        .setIssuedAt()
        .setExpirationTime('2h')
        .sign(this.key);
      this.cache.set(userId, token);
    }
    return token;
  }
}
