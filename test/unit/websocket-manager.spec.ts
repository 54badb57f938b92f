import { describe, expect, it } from 'vitest';
import { WebSocketManager } from '../../src/managers/websocket-manager.js';
import type { ManagerRecord } from '../../src/registry/manager-record.js';

const record: ManagerRecord = { managerId: 'm', userId: 'u', context: 'c', nodeId: 'n', createdAt: 0, lastActivityAt: 0, detachedAt: null };
const frameBytes = (data: string) => Buffer.byteLength(JSON.stringify({ event: 'e', data }));

describe('WebSocketManager', () => {
  describe('#send (detached: the resume buffer)', () => {
    it('keeps at most the configured bytes, oldest dropped first', () => {
      const manager = new WebSocketManager(record, { messages: 1000, bytes: 10_000 });
      for (let i = 0; i < 100; i++) manager.send('e', `${i}`.padEnd(1000, 'x'));
      expect(manager.bufferedBytes).toBeLessThanOrEqual(10_000);
      expect(manager.bufferedCount).toBe(Math.floor(10_000 / frameBytes('0'.padEnd(1000, 'x'))));
    });

    it('keeps at most the configured messages', () => {
      const manager = new WebSocketManager(record, { messages: 3, bytes: 1_000_000 });
      for (let i = 0; i < 10; i++) manager.send('e', `${i}`);
      expect(manager.bufferedCount).toBe(3);
      expect(manager.bufferedBytes).toBe(3 * frameBytes('0'));
    });

    it('does not keep a single message larger than the byte bound, and counts multi-byte characters as bytes', () => {
      const manager = new WebSocketManager(record, { messages: 10, bytes: 100 });
      manager.send('e', 'x'.repeat(200));
      expect(manager.bufferedCount).toBe(0);
      manager.send('e', 'é'.repeat(30)); // 60 bytes of UTF-8 in 30 characters
      expect(manager.bufferedBytes).toBe(frameBytes('é'.repeat(30)));
      manager.send('e', 'é'.repeat(30));
      expect(manager.bufferedCount).toBe(1);
    });

    it('with only a message count (older callers), bounds the bytes by the default', () => {
      const manager = new WebSocketManager(record, 1_000_000);
      for (let i = 0; i < 40; i++) manager.send('e', 'x'.repeat(60_000));
      expect(manager.bufferedBytes).toBeLessThanOrEqual(1_048_576);
    });
  });
});
