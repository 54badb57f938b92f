import type { Redis } from 'ioredis';
import { closeQuietly, isCluster, waitUntilReady, type RedisClient } from './redis-connection.js';

/**
 * The pub/sub side of the registry. On one Redis (or behind Sentinel): a duplicate connection
 * that SUBSCRIBEs, and PUBLISH. On a cluster: sharded pub/sub (SSUBSCRIBE / SPUBLISH), so a
 * message travels only to the shard that owns its channel instead of being broadcast over the
 * whole cluster bus; ioredis keeps one subscriber per primary and moves subscriptions when slots
 * move. Either way ioredis resubscribes after a reconnect.
 */
export class RedisNodeChannel {
  private subscriber?: Redis;
  private channels: string[] = [];

  constructor(
    private readonly client: RedisClient,
    private readonly onMessage: (channel: string, message: string) => void,
  ) {}

  /** Subscribes to `channels`; rejects when that fails within `timeoutMs`. */
  async start(channels: string[], timeoutMs: number): Promise<void> {
    this.channels = channels;
    const { client } = this;
    if (isCluster(client)) {
      client.on('smessage', (channel: string, message: string) => this.onMessage(channel, message));
      // One SSUBSCRIBE per channel: channels of different slots may live on different shards.
      for (const channel of channels) await client.ssubscribe(channel);
      return;
    }
    const subscriber = client.duplicate();
    this.subscriber = subscriber;
    subscriber.on('error', () => undefined);
    subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    await waitUntilReady(subscriber, timeoutMs);
    await subscriber.subscribe(...channels);
  }

  /** Publishes; resolves with how many subscribers received it (0: nobody listens there). */
  async publish(channel: string, message: string): Promise<number> {
    const { client } = this;
    return isCluster(client) ? Number(await client.spublish(channel, message)) : client.publish(channel, message);
  }

  /** Unsubscribes and closes the subscriber connection; never throws. */
  async close(): Promise<void> {
    const { client, subscriber } = this;
    if (isCluster(client)) {
      if (client.status === 'ready' && this.channels.length > 0) {
        await Promise.all(this.channels.map((channel) => client.sunsubscribe(channel).catch(() => undefined)));
      }
      return;
    }
    if (!subscriber) return;
    if (subscriber.status === 'ready') await subscriber.unsubscribe().catch(() => undefined);
    await closeQuietly(subscriber);
  }
}
