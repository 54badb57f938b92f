import type { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { EvictionRequest } from '../manager-registry.interface.js';
import { closeQuietly, isCluster, waitUntilReady, type RedisClient } from './redis-connection.js';
import type { RedisKeys } from './redis-keys.js';
import { callEach, parseChannelMessage } from './redis-records.js';

/** What {@link RedisNodeChannel} needs from its registry. */
export interface RedisNodeChannelHost {
  /** The registry's connection (throws before start). */
  client(): RedisClient;
  readonly keys: RedisKeys;
  /** This node's id (known from start). */
  nodeId(): string;
  readonly logger: Logger;
  /** Another node said it stopped (`-`) or took its lease (`+`). */
  onPresence(nodeId: string, alive: boolean): void;
}

/**
 * The pub/sub side of the registry: this node's channel (eviction requests and node messages)
 * and the presence channel. On one Redis (or behind Sentinel): a duplicate connection that
 * SUBSCRIBEs, and PUBLISH. On a cluster: sharded pub/sub (SSUBSCRIBE / SPUBLISH), so a message
 * travels only to the shard that owns its channel instead of the whole cluster bus; ioredis keeps
 * one subscriber per primary and moves subscriptions when slots move. Either way ioredis
 * resubscribes after a reconnect.
 */
export class RedisNodeChannel {
  private readonly evictionHandlers = new Set<(request: EvictionRequest) => void>();
  private readonly messageHandlers = new Set<(message: string) => void>();
  private subscriber?: Redis;
  private channels: string[] = [];

  constructor(private readonly host: RedisNodeChannelHost) {}

  /** Subscribes; rejects when that fails within `timeoutMs`. */
  async start(timeoutMs: number): Promise<void> {
    const { keys } = this.host;
    const client = this.host.client();
    this.channels = [keys.nodeChannel(this.host.nodeId()), keys.presenceChannel()];
    const onMessage = (channel: string, message: string) => this.dispatch(channel, message);
    if (isCluster(client)) {
      client.on('smessage', onMessage);
      // One SSUBSCRIBE per channel: channels of different slots may live on different shards.
      for (const channel of this.channels) await client.ssubscribe(channel);
      return;
    }
    const subscriber = client.duplicate();
    this.subscriber = subscriber;
    subscriber.on('error', () => undefined);
    subscriber.on('message', onMessage);
    await waitUntilReady(subscriber, timeoutMs);
    await subscriber.subscribe(...this.channels);
  }

  /** Asks the owner of `request.record` to close it. */
  requestEviction(request: EvictionRequest): Promise<number> {
    return this.publish(this.host.keys.nodeChannel(request.record.nodeId), JSON.stringify({ t: 'evict', r: request }));
  }

  /** Sends an opaque message to `nodeId`; resolves with how many subscribers got it (0: nobody listens). */
  sendToNode(nodeId: string, message: string): Promise<number> {
    return this.publish(this.host.keys.nodeChannel(nodeId), JSON.stringify({ t: 'msg', m: message }));
  }

  /** Tells the other nodes that this one stopped (`false`) or took its lease (`true`); best effort. */
  async announce(alive: boolean): Promise<void> {
    await this.publish(this.host.keys.presenceChannel(), (alive ? '+' : '-') + this.host.nodeId()).catch(() => undefined);
  }

  /** Eviction requests addressed to this node; returns the unsubscribe. */
  onEvictionRequest(handler: (request: EvictionRequest) => void): () => void {
    this.evictionHandlers.add(handler);
    return () => this.evictionHandlers.delete(handler);
  }

  /** Node messages addressed to this node; returns the unsubscribe. */
  onNodeMessage(handler: (message: string) => void): () => void {
    this.messageHandlers.add(handler);
    return () => this.messageHandlers.delete(handler);
  }

  /** Drops the handlers, unsubscribes and closes the subscriber connection; never throws. */
  async close(): Promise<void> {
    this.evictionHandlers.clear();
    this.messageHandlers.clear();
    const client = this.host.client();
    const { subscriber } = this;
    if (isCluster(client)) {
      if (client.status === 'ready') await Promise.all(this.channels.map((channel) => client.sunsubscribe(channel).catch(() => undefined)));
      return;
    }
    if (!subscriber) return;
    if (subscriber.status === 'ready') await subscriber.unsubscribe().catch(() => undefined);
    await closeQuietly(subscriber);
  }

  private async publish(channel: string, message: string): Promise<number> {
    const client = this.host.client();
    return isCluster(client) ? Number(await client.spublish(channel, message)) : client.publish(channel, message);
  }

  private dispatch(channel: string, raw: string): void {
    const { keys, logger } = this.host;
    const nodeId = this.host.nodeId();
    if (channel === keys.presenceChannel()) {
      if (raw.startsWith('-') || raw.startsWith('+')) this.host.onPresence(raw.slice(1), raw.startsWith('+'));
      return;
    }
    const message = parseChannelMessage(raw);
    if (message?.kind === 'message') {
      callEach(this.messageHandlers, message.message, (error) => logger.error(`a node message handler failed: ${String(error)}`));
      return;
    }
    const request = message?.request;
    if (request?.record.nodeId !== nodeId) return;
    callEach(this.evictionHandlers, request, (error) => logger.error(`an eviction handler failed for manager ${request.record.managerId}: ${String(error)}`));
  }
}
