import { createHash } from 'node:crypto';

/** A Lua script with its SHA1, run by EVALSHA with an EVAL fallback (the cache is per server). */
export interface RedisScript {
  /** Name for error messages. */
  readonly name: string;
  /** Lua source. */
  readonly lua: string;
  /** SHA1 of {@link lua}, as SCRIPT LOAD returns it. */
  readonly sha: string;
}

function script(name: string, prelude: string, body: string): RedisScript {
  const lua = prelude + body;
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

// Per-user scripts touch only the user's two hashes (KEYS, one slot). Liveness comes from the
// caller: ARGV[1] is how many dead nodes follow, ARGV[2..] their ids (the caller's view as of its
// last lease tick); a node not named counts as alive, so nothing live is ever dropped. The
// script's own arguments follow, as A[1..]. `drop` removes one entry from both hashes; the node
// set is the caller's business (it lives in another slot).
const USER_PRELUDE = `
local nDead = tonumber(ARGV[1])
local dead = {}
for i = 2, nDead + 1 do dead[ARGV[i]] = true end
local A = {}
for i = nDead + 2, #ARGV do A[#A + 1] = ARGV[i] end
local function live(node) return not dead[node] end
local function drop(id, rec)
  redis.call('HDEL', KEYS[1], id)
  if redis.call('HGET', KEYS[2], rec.context) == id then redis.call('HDEL', KEYS[2], rec.context) end
end
`;

/**
 * Admission. KEYS: user managers, user contexts. A: managerId, context, record JSON, limit.
 * Drops the user's entries of dead nodes, then returns `{0, active, existingJson}` (same
 * managerId confirmed, or the context held by another), `{0, active}` (full; a confirmed
 * managerId past the limit is dropped) or `{1, active}` (added).
 */
export const ADMIT_SCRIPT = script(
  'admit',
  USER_PRELUDE,
  `
local managerId, context, limit = A[1], A[2], tonumber(A[4])
local flat = redis.call('HGETALL', KEYS[1])
local count = 0
for i = 1, #flat, 2 do
  local rec = cjson.decode(flat[i + 1])
  if live(rec.nodeId) then count = count + 1 else drop(flat[i], rec) end
end
local same = redis.call('HGET', KEYS[1], managerId)
if same then
  -- Over the limit only after instances admitted while cut off from each other: the caller
  -- re-registering drops its stalest entries first, and evicts them.
  if count > limit then
    drop(managerId, cjson.decode(same))
    return {0, count - 1}
  end
  return {0, count, same}
end
local existingId = redis.call('HGET', KEYS[2], context)
if existingId then
  local existing = redis.call('HGET', KEYS[1], existingId)
  if existing then return {0, count, existing} end
  redis.call('HDEL', KEYS[2], context)
end
if count >= limit then return {0, count} end
redis.call('HSET', KEYS[1], managerId, A[3])
redis.call('HSET', KEYS[2], context, managerId)
return {1, count + 1}
`,
);

/**
 * Removal. KEYS: user managers, user contexts. A: managerId, owner (`''` = any). Removes the
 * entry only if it is held by `owner` (the reaper passes the dead node, so that an entry a live
 * node re-took meanwhile survives). Returns the removed entry's nodeId, or nil (`null`).
 */
export const REMOVE_SCRIPT = script(
  'remove',
  USER_PRELUDE,
  `
local json = redis.call('HGET', KEYS[1], A[1])
if not json then return false end
local rec = cjson.decode(json)
if A[2] ~= '' and rec.nodeId ~= A[2] then return false end
drop(A[1], rec)
return rec.nodeId
`,
);

/**
 * Read-only lookups that skip entries of dead nodes. KEYS: user managers, user contexts.
 * A: mode (`list` | `count` | `get` | `ctx`), managerId or context.
 */
export const READ_SCRIPT = script(
  'read',
  USER_PRELUDE,
  `
local mode = A[1]
local function liveJson(json)
  if json and live(cjson.decode(json).nodeId) then return json end
  return false
end
if mode == 'get' then return liveJson(redis.call('HGET', KEYS[1], A[2])) end
if mode == 'ctx' then
  local id = redis.call('HGET', KEYS[2], A[2])
  if not id then return false end
  return liveJson(redis.call('HGET', KEYS[1], id))
end
local flat = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 2, #flat, 2 do
  if liveJson(flat[i]) then out[#out + 1] = flat[i] end
end
if mode == 'count' then return #out end
return out
`,
);

/**
 * Patch of owner-reported fields, only if the record exists. KEYS: user managers.
 * ARGV: managerId, lastActivityAt (`''` = keep), detachedAt (`''` = keep, `null`).
 */
export const UPDATE_SCRIPT = script(
  'update',
  '',
  `
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return 0 end
local rec = cjson.decode(json)
if ARGV[2] ~= '' then rec.lastActivityAt = tonumber(ARGV[2]) end
if ARGV[3] == 'null' then rec.detachedAt = cjson.null elseif ARGV[3] ~= '' then rec.detachedAt = tonumber(ARGV[3]) end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return 1
`,
);

// Lease scripts touch only the lease table (KEYS: deadlines zset, tokens hash; one slot) and
// take the time from Redis, so that every node judges deadlines by the same clock.
const LEASE_PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Lease tick: O(log nodes + dead returned), whatever the fleet size. ARGV: nodeId, leaseTtlMs,
 * token, max dead nodes to return. Sets the caller's deadline to now + ttl, then returns
 * `{held, deadNodes}`: `held` is 0 when the caller's deadline had passed, was missing or was
 * another process's (the lease lapsed; its entries may have been reaped meanwhile).
 */
export const TICK_SCRIPT = script(
  'tick',
  LEASE_PRELUDE,
  `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local held = score ~= false and tonumber(score) > now and redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[3]
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local deadNodes = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
if held then return {1, deadNodes} end
return {0, deadNodes}
`,
);

/**
 * Graceful stop: marks the caller's lease as expired (deadline 0) if it is still the caller's,
 * so that its entries stop counting and get reaped. ARGV: nodeId, token. 1 if released.
 */
export const RELEASE_SCRIPT = script(
  'release',
  '',
  `
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[1], 0, ARGV[1])
return 1
`,
);

/**
 * Forgets a dead node whose entries were all reaped, unless it renewed its lease meanwhile, once
 * it has been dead for a whole lease: until then every instance's dead view names it (each ticks
 * every TTL/3), so per-user scripts drop any entry of it the reaper could not find (its node set
 * lost with its shard). ARGV: nodeId, leaseTtlMs. 1 if forgotten.
 */
export const FORGET_SCRIPT = script(
  'forget',
  LEASE_PRELUDE,
  `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score == false or tonumber(score) > now - tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`,
);

/**
 * Gives each named node the lease table does not know a lease of one TTL, as if it had just
 * renewed it (no token: a live node's next tick takes it as its own and re-registers). A node is
 * missing only when the table lost its data (a node writes its lease before its first entry and
 * is forgotten only once reaped), so it may be alive: it gets a whole lease to say so; a dead one
 * then lapses and is reaped like any other. ARGV: leaseTtlMs, nodeIds. Returns the nodes added.
 */
export const ADOPT_SCRIPT = script(
  'adopt',
  LEASE_PRELUDE,
  `
local added = {}
for i = 2, #ARGV do
  if redis.call('ZADD', KEYS[1], 'NX', now + tonumber(ARGV[1]), ARGV[i]) == 1 then added[#added + 1] = ARGV[i] end
end
return added
`,
);

/** Every script, for SCRIPT LOAD at start and after a reconnect. */
export const ALL_SCRIPTS: readonly RedisScript[] = [ADMIT_SCRIPT, REMOVE_SCRIPT, READ_SCRIPT, UPDATE_SCRIPT, TICK_SCRIPT, RELEASE_SCRIPT, FORGET_SCRIPT, ADOPT_SCRIPT];
