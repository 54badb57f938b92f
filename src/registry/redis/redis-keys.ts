/**
 * Key and channel names of the Redis registry: the one place that spells them. Tools that read
 * the registry directly (dashboards, chaos tests, the admin API) take the names from here.
 *
 * Redis Cluster rules: every key a script touches must live in one hash slot. So each family of
 * keys carries a hash tag: all of one user's keys share `{u:<userId>}`, all of one node's keys
 * share `{n:<nodeId>}`, and the lease table lives in `{leases}`. Per-user scripts therefore
 * touch one slot; the lease tick touches another; nothing ever spans two.
 *
 * Names stay collision-free whatever an id contains: the tag prefixes (`u:`, `n:`, `leases`)
 * differ, and within a family the suffixes (`:m`, `:ctx`, `:ch`) differ in their last character.
 * An id containing `}` ends the tag early; its keys still share one slot, which is all that counts.
 */
export class RedisKeys {
  /**
   * @param prefix Prepended to every key and channel, e.g. `wsm:`. It must not contain `{` or
   * `}`: a hash tag in the prefix would put every key of the deployment in one slot.
   */
  constructor(readonly prefix: string) {
    if (/[{}]/.test(prefix)) throw new Error(`the Redis key prefix must not contain "{" or "}" (got ${JSON.stringify(prefix)})`);
  }

  /** Hash managerId -> JSON {@link ManagerRecord} of one user: `P{u:<userId>}:m`. */
  userManagers(userId: string): string {
    return `${this.prefix}{u:${userId}}:m`;
  }

  /** Hash context -> managerId of one user: `P{u:<userId>}:ctx`. */
  userContexts(userId: string): string {
    return `${this.prefix}{u:${userId}}:ctx`;
  }

  /**
   * Set of JSON `[userId, managerId]` pairs held by one node: `P{n:<nodeId>}:m`. A superset of
   * the node's entries (a pair is added before its entry and removed after it), so the reaper,
   * which walks it, never misses an entry of a dead node.
   */
  node(nodeId: string): string {
    return `${this.prefix}{n:${nodeId}}:m`;
  }

  /**
   * Sorted set nodeId -> lease deadline (epoch ms, Redis clock): `P{leases}:deadline`. A node
   * counts as alive while its deadline is in the future; dead nodes stay until their entries are
   * reaped. The remaining lease of a node is `ZSCORE - now`.
   */
  leases(): string {
    return `${this.prefix}{leases}:deadline`;
  }

  /** Hash nodeId -> token of the process holding that node's lease: `P{leases}:token`. */
  leaseTokens(): string {
    return `${this.prefix}{leases}:token`;
  }

  /**
   * Pub/sub channel of one node (sharded pub/sub on a cluster): `P{n:<nodeId>}:ch`. Carries
   * eviction requests and node messages (cross-instance delivery) addressed to that node.
   */
  nodeChannel(nodeId: string): string {
    return `${this.prefix}{n:${nodeId}}:ch`;
  }

  /**
   * Channel on which nodes announce lease changes, so that the others need not wait for their
   * next tick: `-<nodeId>` when a node stops gracefully (stop counting it now), `+<nodeId>` when
   * a node starts or renews a lapsed lease (count it again now): `P{leases}:presence`.
   */
  presenceChannel(): string {
    return `${this.prefix}{leases}:presence`;
  }
}
