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

function script(name: string, body: string): RedisScript {
  const lua = PRELUDE + body;
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

// Shared helpers. Key names mirror RedisKeys. Liveness is memoised per call because a user's
// entries usually live on a handful of nodes. `drop` removes one entry from all three indexes,
// so an entry is either fully present or fully gone (`popped`: the reaper already SPOPped it).
const PRELUDE = `
local P = ARGV[1]
local alive = {}
local function live(node)
  local v = alive[node]
  if v == nil then
    v = redis.call('EXISTS', P .. 'lease:' .. node) == 1
    alive[node] = v
  end
  return v
end
local function drop(mKey, ctxKey, userId, id, rec, popped)
  redis.call('HDEL', mKey, id)
  if redis.call('HGET', ctxKey, rec.context) == id then redis.call('HDEL', ctxKey, rec.context) end
  if not popped then redis.call('SREM', P .. 'node:' .. rec.nodeId .. ':m', cjson.encode({userId, id})) end
end
`;

/**
 * Admission. KEYS: user managers, user contexts, caller's lease. ARGV: prefix, userId, managerId,
 * context, nodeId, record JSON, limit, leaseTtlMs, lease token. Returns `{-1, 0}` when the
 * caller's lease is not its own (it lapsed: the caller must renew it and re-register before it
 * admits anything). Otherwise reaps the user's entries of dead nodes, then returns
 * `{0, active, existingJson}` (same managerId confirmed, or the context held by another),
 * `{0, active}` (full; a confirmed managerId past the limit is dropped) or `{1, active}` (added).
 */
export const ADMIT_SCRIPT = script(
  'admit',
  `
local userId, managerId, context, nodeId = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('GET', KEYS[3]) ~= ARGV[9] then return {-1, 0} end
local flat = redis.call('HGETALL', KEYS[1])
local count = 0
for i = 1, #flat, 2 do
  local rec = cjson.decode(flat[i + 1])
  if live(rec.nodeId) then count = count + 1 else drop(KEYS[1], KEYS[2], userId, flat[i], rec) end
end
local same = redis.call('HGET', KEYS[1], managerId)
if same then
  -- Over the limit only after instances admitted while cut off from each other: the caller
  -- re-registering drops its stalest entries first, and evicts them.
  if count > tonumber(ARGV[7]) then
    drop(KEYS[1], KEYS[2], userId, managerId, cjson.decode(same))
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
if count >= tonumber(ARGV[7]) then return {0, count} end
redis.call('HSET', KEYS[1], managerId, ARGV[6])
redis.call('HSET', KEYS[2], context, managerId)
redis.call('SADD', P .. 'node:' .. nodeId .. ':m', cjson.encode({userId, managerId}))
redis.call('SADD', P .. 'nodes', nodeId)
return {1, count + 1}
`,
);

/** Removal. KEYS: user managers, user contexts. ARGV: prefix, userId, managerId. 1 only if removed. */
export const REMOVE_SCRIPT = script(
  'remove',
  `
local json = redis.call('HGET', KEYS[1], ARGV[3])
if not json then return 0 end
drop(KEYS[1], KEYS[2], ARGV[2], ARGV[3], cjson.decode(json))
return 1
`,
);

/**
 * Read-only lookups that skip entries of dead nodes. KEYS: user managers, user contexts.
 * ARGV: prefix, mode (`list` | `count` | `get` | `ctx`), managerId or context.
 */
export const READ_SCRIPT = script(
  'read',
  `
local mode = ARGV[2]
local function liveJson(json)
  if json and live(cjson.decode(json).nodeId) then return json end
  return false
end
if mode == 'get' then return liveJson(redis.call('HGET', KEYS[1], ARGV[3])) end
if mode == 'ctx' then
  local id = redis.call('HGET', KEYS[2], ARGV[3])
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
 * ARGV: prefix, managerId, lastActivityAt (`''` = keep), detachedAt (`''` = keep, `null`).
 */
export const UPDATE_SCRIPT = script(
  'update',
  `
local json = redis.call('HGET', KEYS[1], ARGV[2])
if not json then return 0 end
local rec = cjson.decode(json)
if ARGV[3] ~= '' then rec.lastActivityAt = tonumber(ARGV[3]) end
if ARGV[4] == 'null' then rec.detachedAt = cjson.null elseif ARGV[4] ~= '' then rec.detachedAt = tonumber(ARGV[4]) end
redis.call('HSET', KEYS[1], ARGV[2], cjson.encode(rec))
return 1
`,
);

/**
 * Lease tick: refreshes the caller's lease, then reaps at most `budget` entries of nodes whose
 * lease is gone. KEYS: caller's lease, nodes set. ARGV: prefix, leaseTtlMs, lease token, budget.
 * Returns `{reaped, held}`: `held` is 0 when the lease was gone or not the caller's before this
 * refresh, i.e. it lapsed and the caller's entries may have been reaped meanwhile.
 */
export const TICK_SCRIPT = script(
  'tick',
  `
local held = redis.call('GET', KEYS[1]) == ARGV[3]
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
local budget = tonumber(ARGV[4])
local reaped = 0
for _, node in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if reaped >= budget then break end
  if not live(node) then
    local setKey = P .. 'node:' .. node .. ':m'
    for _, member in ipairs(redis.call('SPOP', setKey, budget - reaped)) do
      local pair = cjson.decode(member)
      local mKey, ctxKey = P .. 'user:' .. pair[1] .. ':m', P .. 'user:' .. pair[1] .. ':ctx'
      local json = redis.call('HGET', mKey, pair[2])
      if json then
        local rec = cjson.decode(json)
        if rec.nodeId == node then drop(mKey, ctxKey, pair[1], pair[2], rec, true) end
      end
      reaped = reaped + 1
    end
    if redis.call('EXISTS', setKey) == 0 then redis.call('SREM', KEYS[2], node) end
  end
end
if held then return {reaped, 1} end
return {reaped, 0}
`,
);

/** Every script, for SCRIPT LOAD at start and after a reconnect. */
export const ALL_SCRIPTS: readonly RedisScript[] = [ADMIT_SCRIPT, REMOVE_SCRIPT, READ_SCRIPT, UPDATE_SCRIPT, TICK_SCRIPT];
