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

/** What a node's channel carries: an eviction request or an opaque node message. */
export type ChannelMessage = { kind: 'evict'; request: EvictionRequest; message?: undefined } | { kind: 'message'; message: string; request?: undefined };

/**
 * A message from a node's channel (`{"t":"evict","r":request}` or `{"t":"msg","m":string}`);
 * `null` for anything malformed.
 */
export function parseChannelMessage(raw: string): ChannelMessage | null {
  try {
    const envelope = JSON.parse(raw) as { t?: unknown; r?: Partial<EvictionRequest> | null; m?: unknown } | null;
    if (envelope?.t === 'msg' && typeof envelope.m === 'string') return { kind: 'message', message: envelope.m };
    if (envelope?.t === 'evict' && typeof envelope.r?.record?.managerId === 'string') return { kind: 'evict', request: envelope.r as EvictionRequest };
    return null;
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
