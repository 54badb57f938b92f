import { RegistryReplyError } from '../errors/registry-reply.error.js';
import { RegistryUnavailableError } from '../errors/registry-unavailable.error.js';

/**
 * Awaits one registry call for at most `timeoutMs`. A call that does not settle in time is an
 * outage for its caller ({@link RegistryUnavailableError}), so that a hung registry never holds a
 * user's lock; an error that is not an outage is a {@link RegistryReplyError} naming `operation`.
 */
export async function callRegistry<T>(operation: string, timeoutMs: number, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RegistryUnavailableError(new Error(`registry ${operation} did not answer within ${timeoutMs} ms`))), timeoutMs);
  });
  try {
    return await Promise.race([call(), expired]);
  } catch (error) {
    if (error instanceof RegistryUnavailableError || error instanceof RegistryReplyError) throw error;
    throw new RegistryReplyError(operation, error);
  } finally {
    clearTimeout(timer);
  }
}
