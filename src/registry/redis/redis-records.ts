import type { ManagerRecord } from '../manager-record.js';
import type { EvictionRequest } from '../manager-registry.interface.js';

/** A record as stored in the user hash (JSON written by JS, possibly re-encoded by Lua cjson). */
export function parseRecord(json: string): ManagerRecord {
  return JSON.parse(json) as ManagerRecord;
}

/** A script reply that is a record's JSON, or nil (`null` from ioredis). */
export function parseNullableRecord(reply: unknown): ManagerRecord | null {
  return typeof reply === 'string' ? parseRecord(reply) : null;
}

/** An eviction request from the pub/sub channel; `null` for anything malformed. */
export function parseEvictionRequest(message: string): EvictionRequest | null {
  try {
    const request = JSON.parse(message) as Partial<EvictionRequest> | null;
    return typeof request?.record?.managerId === 'string' ? (request as EvictionRequest) : null;
  } catch {
    return null;
  }
}

/**
 * Calls every handler; one that throws (or returns a promise that rejects) is reported through
 * `onError` and never stops the rest.
 */
export function callEach<T>(handlers: Iterable<(arg: T) => void>, arg: T, onError: (error: unknown) => void): void {
  for (const handler of handlers) {
    try {
      const result: unknown = handler(arg);
      if (result instanceof Promise) result.catch(onError);
    } catch (error) {
      onError(error);
    }
  }
}
