/**
 * Key and channel names of the Redis registry. The Lua scripts in `redis-scripts.ts` build the
 * same names from the prefix (a script reaches the lease and node keys of whichever nodes it
 * meets), so a change here must be mirrored there.
 *
 * No hash tags: the registry targets one Redis (or a primary with replicas), not Redis Cluster.
 * The suffixes make names collision-free whatever a user id contains: a `:m` key never equals
 * a `:ctx` key because their last characters differ.
 */
export class RedisKeys {
  /** @param prefix Prepended to every key and channel, e.g. `wsm:`. */
  constructor(readonly prefix: string) {}

  /** Hash managerId -> JSON {@link ManagerRecord} of one user. */
  userManagers(userId: string): string {
    return `${this.prefix}user:${userId}:m`;
  }

  /** Hash context -> managerId of one user. */
  userContexts(userId: string): string {
    return `${this.prefix}user:${userId}:ctx`;
  }

  /** Set of JSON `[userId, managerId]` pairs held by one node. */
  node(nodeId: string): string {
    return `${this.prefix}node:${nodeId}:m`;
  }

  /** A node's lease: exists while the node is alive (PX leaseTtlMs, refreshed every ttl/3). */
  lease(nodeId: string): string {
    return `${this.prefix}lease:${nodeId}`;
  }

  /** Set of node ids that have held entries; the reaper walks it to find dead nodes. */
  nodes(): string {
    return `${this.prefix}nodes`;
  }

  /** Pub/sub channel on which a node receives eviction requests. */
  evictionChannel(nodeId: string): string {
    return `${this.prefix}evict:${nodeId}`;
  }
}
