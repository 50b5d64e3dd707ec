"""The Lua scripts: every state change that must be atomic runs server-side in one call.

Each script is sent as ``EVALSHA``; a server that does not know it (first use, or after a
restart emptied its script cache) answers ``NOSCRIPT`` and the caller loads it and
retries (see ``shard.py``): a ``NOSCRIPT`` call did nothing, so the retry cannot
duplicate a message.

Key names are built inside the fan-out scripts from the prefix, exactly as ``keys.py``
builds them; envelopes are ``<expires_ms>|<channels>|<payload>`` (see ``keys.py``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

from .keys import TOKEN_LENGTH

__all__ = ["ACK", "FANOUT", "GROUP_SEND", "READ_GROUPS", "SEND", "Script", "source_for"]


@dataclass(frozen=True)
class Script:
    name: str
    source: str

    @cached_property
    def sha(self) -> str:  # cached: every script call sends it
        return hashlib.sha1(self.source.encode()).hexdigest()


_REGISTRY: dict[str, Script] = {}


def _script(name: str, source: str) -> Script:
    script = Script(name, source)
    _REGISTRY[script.sha] = script
    return script


def source_for(sha: str) -> str | None:
    script = _REGISTRY.get(sha)
    return None if script is None else script.source


# Drop expired envelopes from the head of a normal channel's list. Run only when the
# list is at capacity, so a full channel of stale messages does not refuse fresh ones,
# while the common path costs one LLEN. Returns how many were dropped.
_TRIM = """
local function trim_expired(key, now)
  local dropped = 0
  while true do
    local head = redis.call('LINDEX', key, 0)
    if not head then break end
    local exp = tonumber(string.match(head, '^(%d+)|'))
    if exp and exp > now then break end
    redis.call('LPOP', key)
    dropped = dropped + 1
  end
  return dropped
end
"""

SEND = _script(
    "send",
    _TRIM
    + """
-- KEYS: the distinct keys of this batch. ARGV: now_ms, ttl_ms, then per message
-- (list key index, counts key index or 0 for a normal channel, channel, capacity,
-- envelope). Returns one 1 (accepted) or 0 (full) per message, then the number of
-- expired envelopes trimmed.
local now, ttl = tonumber(ARGV[1]), ARGV[2]
local results, touched, trimmed = {}, {}, 0
local n = (#ARGV - 2) / 5
for i = 0, n - 1 do
  local b = 3 + i * 5
  local list = KEYS[tonumber(ARGV[b])]
  local ci = tonumber(ARGV[b + 1])
  local cap = tonumber(ARGV[b + 3])
  local ok
  if ci == 0 then
    ok = redis.call('LLEN', list) < cap
    if not ok then
      trimmed = trimmed + trim_expired(list, now)
      ok = redis.call('LLEN', list) < cap
    end
  else
    local counts = KEYS[ci]
    ok = tonumber(redis.call('HGET', counts, ARGV[b + 2]) or '0') < cap
    if ok then
      redis.call('HINCRBY', counts, ARGV[b + 2], 1)
      touched[counts] = true
    end
  end
  if ok then
    redis.call('RPUSH', list, ARGV[b + 4])
    touched[list] = true
    results[i + 1] = 1
  else
    results[i + 1] = 0
  end
end
for key in pairs(touched) do redis.call('PEXPIRE', key, ttl) end
results[n + 1] = trimmed
return results
""",
)

# Fields per HMGET/HSET/HDEL call: Lua's unpack() is limited by the C stack (~8,000
# values), so at most ~3,900 fields with their values; and above the hash's listpack
# limit (hash-max-listpack-entries: 128 in Redis, 512 in Valkey 8), so that one HSET of
# a big group send turns a counts hash into a hash table before inserting instead of
# growing a listpack field by field, a scan and a reallocation each (measured on Valkey
# 8.1: 1,000 fields in two HSETs of 500 took 958 us of server time, in one 99 us).
# unpack(list, from, to) passes a range without copying it into a table first.
_CHUNKS = """
local CHUNK = 2000
"""

ACK = _script(
    "ack",
    _CHUNKS
    + """
-- KEYS[1]: a process's counts hash. ARGV: k, then k channels that each had one message
-- leave the process's local buffers (delivered or expired), then (channel, n) pairs
-- for other counts (n < 0: messages put back): they no longer count against their
-- channel's capacity. Most acks are ones, so they come without their count (a 1,000-
-- member group send's ack is 1,001 arguments, not 2,000: measured 1.7 -> 1.1 ms of
-- server time) and are read straight from ARGV. One HMGET and one HSET/HDEL per chunk.
-- by: the count leaving each field (by[i] for fields[i]), or nil: one each.
local function settle(fields, first, last, by)
  for from = first, last, CHUNK do
    local to = math.min(last, from + CHUNK - 1)
    local current = redis.call('HMGET', KEYS[1], unpack(fields, from, to))
    local keep, drop = {}, {}
    for i = from, to do
      local left = (tonumber(current[i - from + 1]) or 0) - (by and by[i] or 1)
      if left > 0 then
        keep[#keep + 1] = fields[i]
        keep[#keep + 1] = left
      else
        drop[#drop + 1] = fields[i]
      end
    end
    if #keep > 0 then redis.call('HSET', KEYS[1], unpack(keep)) end
    if #drop > 0 then redis.call('HDEL', KEYS[1], unpack(drop)) end
  end
end
local ones = tonumber(ARGV[1])
settle(ARGV, 2, ones + 1, nil)
local fields, counts = {}, {}
for i = ones + 2, #ARGV, 2 do
  fields[#fields + 1] = ARGV[i]
  counts[#counts + 1] = tonumber(ARGV[i + 1])
end
settle(fields, 1, #fields, counts)
return 0
""",
)

# Deliver one payload to a list of member channels: one envelope per receiving process
# (naming its member channels), one per normal channel; members at capacity are skipped
# and counted. cap_of(member) gives a member's capacity.
_FAN_OUT = (
    _TRIM
    + _CHUNKS
    + f"""
local TOKEN = {TOKEN_LENGTH}
-- Per member, the loops below run a few table operations and no function they can do
-- without: explicit indexes rather than #t + 1 (a length is a search), library
-- functions as locals.
local find, sub = string.find, string.sub
-- same: the capacity of every member when no override applies to any (no call per
-- member), else nil and cap_of(member) decides.
local function fan_out(members, cap_of, same, prefix, payload, exp, now, ttl)
  local procs, order, full, trimmed, plain = {{}}, {{}}, 0, 0, nil
  for _, m in ipairs(members) do
    local bang = find(m, '!', 1, true)
    if bang then
      local tag = sub(m, bang > TOKEN and bang - TOKEN or 1, bang - 1)
      local p = procs[tag]
      if not p then p = {{n = 0}}; procs[tag] = p; order[#order + 1] = tag end
      local k = p.n + 1
      p[k] = m
      p.n = k
    else
      local list = prefix .. ':c:{{' .. m .. '}}'
      local cap = same or cap_of(m)
      local full_now = redis.call('LLEN', list) >= cap
      if full_now then
        trimmed = trimmed + trim_expired(list, now)
        full_now = redis.call('LLEN', list) >= cap
      end
      if full_now then
        full = full + 1
      else
        plain = plain or (exp .. '||' .. payload)
        redis.call('RPUSH', list, plain)
        redis.call('PEXPIRE', list, ttl)
      end
    end
  end
  -- One envelope per process and chunk, naming its member channels that have room.
  for _, tag in ipairs(order) do
    local counts = prefix .. ':n:{{' .. tag .. '}}'
    local inbox = prefix .. ':p:{{' .. tag .. '}}'
    local names = procs[tag]
    -- A process whose receivers keep up has acked everything: its counts hash is
    -- empty or small, and reading it whole is cheaper than asking about every member.
    local known = nil
    local size = redis.call('HLEN', counts)
    if size * 4 <= names.n then
      known = {{}}
      if size > 0 then
        local flat = redis.call('HGETALL', counts)
        for i = 1, #flat, 2 do known[flat[i]] = tonumber(flat[i + 1]) end
      end
    end
    local pushed = false
    for from = 1, names.n, CHUNK do
      local to = math.min(names.n, from + CHUNK - 1)
      local current = nil
      if not known then current = redis.call('HMGET', counts, unpack(names, from, to)) end
      local accepted, updates, a = {{}}, {{}}, 0
      for i = from, to do
        local m = names[i]
        local c
        if known then c = known[m] or 0 else c = tonumber(current[i - from + 1]) or 0 end
        if c >= (same or cap_of(m)) then
          full = full + 1
        else
          a = a + 1
          accepted[a] = m
          updates[2 * a - 1] = m
          updates[2 * a] = c + 1
        end
      end
      if a > 0 then
        redis.call('HSET', counts, unpack(updates, 1, 2 * a))
        redis.call('RPUSH', inbox, exp .. '|' .. table.concat(accepted, ',') .. '|' .. payload)
        pushed = true
      end
    end
    if pushed then
      redis.call('PEXPIRE', inbox, ttl)
      redis.call('PEXPIRE', counts, ttl)
    end
  end
  return {{full, trimmed}}
end
"""
)

# Live members of the groups in KEYS, expired ones removed first, de-duplicated.
_MEMBERS = """
local function live_members(keys, now)
  if #keys == 1 then  -- one set: its members are distinct already
    redis.call('ZREMRANGEBYSCORE', keys[1], '-inf', now)
    return redis.call('ZRANGE', keys[1], 0, -1)
  end
  local seen, members = {}, {}
  for _, key in ipairs(keys) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    for _, m in ipairs(redis.call('ZRANGE', key, 0, -1)) do
      if not seen[m] then seen[m] = true; members[#members + 1] = m end
    end
  end
  return members
end
"""

GROUP_SEND = _script(
    "group_send",
    _FAN_OUT
    + _MEMBERS
    + """
-- One shard's whole group send, for standalone servers, where a script may touch keys
-- it was not given (member keys are found in the sets). KEYS: group sets on this shard.
-- ARGV: now_ms, expires_ms, ttl_ms, payload, prefix, default capacity, then
-- (Lua pattern, capacity) pairs: the layer's glob overrides, first match wins.
local now, exp, ttl, payload, prefix = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local default = tonumber(ARGV[6])
local function cap_of(m)
  for i = 7, #ARGV, 2 do
    if string.match(m, ARGV[i]) then return tonumber(ARGV[i + 1]) end
  end
  return default
end
local same = nil
if #ARGV < 7 then same = default end
return fan_out(live_members(KEYS, now), cap_of, same, prefix, payload, exp, now, ttl)
""",
)

READ_GROUPS = _script(
    "read_groups",
    _MEMBERS
    + """
-- KEYS: group sets (one slot). ARGV: now_ms. Returns the live members.
return live_members(KEYS, tonumber(ARGV[1]))
""",
)

FANOUT = _script(
    "fanout",
    _FAN_OUT
    + """
-- Fan-out to members the caller read first (Redis Cluster, or capacity rules that are
-- regexes). KEYS: every key the members map to, all in one slot, declared as cluster
-- mode requires. ARGV: now_ms, expires_ms, ttl_ms, payload, prefix, then (member,
-- capacity) pairs.
local caps, members = {}, {}
for i = 6, #ARGV, 2 do
  members[#members + 1] = ARGV[i]
  caps[ARGV[i]] = tonumber(ARGV[i + 1])
end
local function cap_of(m) return caps[m] end
return fan_out(members, cap_of, nil, ARGV[5], ARGV[4], ARGV[2], tonumber(ARGV[1]), ARGV[3])
""",
)
