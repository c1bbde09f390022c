"""The Lua scripts that make each multi-key change one atomic Redis step.

Key layout (``Store`` builds the names):

    user:<id>                  hash: id, name, password (scrypt, self-describing)
    user:<id>:orders           list of order ids, oldest first
    order:<id>                 hash: id, user, item, quantity, version, created_at, updated_at,
                               last_rid, last_fp (request id and body fingerprint of the last PUT)
    idem:<user>:<sha>          hash: fp, owner, rid (the owner's request id, '' when none),
                               state (pending|done), status, location, etag, body
    idem:<user>:<sha>:lease    string: the owner token, with a PX lease

``<sha>`` is the SHA-256 (hex) of the client's Idempotency-Key: a key may contain ``:``, and
hashing keeps the names of two different keys apart whatever they contain.
"""

from __future__ import annotations

# KEYS: record, lease. ARGV: fingerprint, owner, lease_ms, ttl_s, request id ('' when none).
# Mirrors nodes.idempotency.decide; a test runs both over every case.
RESERVE = """
local rec = redis.call('HMGET', KEYS[1], 'fp', 'state', 'status', 'location', 'etag', 'body',
  'rid')
if not rec[1] then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'owner', ARGV[2], 'state', 'pending',
    'rid', ARGV[5])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return {'reserve'}
end
if rec[1] ~= ARGV[1] then return {'mismatch'} end
if rec[2] == 'done' then return {'replay', rec[3], rec[4], rec[5], rec[6]} end
local decision = 'take_over'
local left = redis.call('PTTL', KEYS[2])
if left > 0 then
  if ARGV[5] == '' or rec[7] ~= ARGV[5] then return {'in_progress', tostring(left)} end
  decision = 'retry_take_over'
end
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'rid', ARGV[5])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return {decision}
"""

# KEYS: record, lease, order, user's order list.
# ARGV: owner, order id, user, item, quantity, now, status, location, etag, body.
# Creates the order and stores the response only while ARGV[1] still owns the reservation.
COMMIT = """
local rec = redis.call('HMGET', KEYS[1], 'state', 'owner', 'status', 'location', 'etag', 'body')
if rec[1] == 'done' then return {'replay', rec[3], rec[4], rec[5], rec[6]} end
if rec[1] ~= 'pending' or rec[2] ~= ARGV[1] then return {'fenced'} end
redis.call('HSET', KEYS[3], 'id', ARGV[2], 'user', ARGV[3], 'item', ARGV[4],
  'quantity', ARGV[5], 'version', '1', 'created_at', ARGV[6], 'updated_at', ARGV[6])
redis.call('RPUSH', KEYS[4], ARGV[2])
redis.call('HSET', KEYS[1], 'state', 'done', 'status', ARGV[7], 'location', ARGV[8],
  'etag', ARGV[9], 'body', ARGV[10])
redis.call('DEL', KEYS[2])
return {'committed'}
"""

# KEYS: record, lease. ARGV: owner. Gives a pending reservation up (the request failed).
RELEASE = """
local rec = redis.call('HMGET', KEYS[1], 'state', 'owner')
if rec[1] == 'pending' and rec[2] == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
"""

# KEYS: order. ARGV: user, item, quantity, now, request id ('' when none), body fingerprint,
# then the acceptable versions ('*' for any).
# Compare-and-set: the update happens only when the current version is acceptable. A retry of the
# update that made the current version (same request id and body, version = an If-Match base + 1)
# is answered 'replayed' without a second change. Mirrors nodes.orders.is_retry_of_last_update.
UPDATE = """
local cur = redis.call('HMGET', KEYS[1], 'user', 'version', 'last_rid', 'last_fp')
if not cur[1] then return {'missing'} end
if cur[1] ~= ARGV[1] then return {'forbidden'} end
local version = tonumber(cur[2])
if ARGV[5] ~= '' and cur[3] == ARGV[5] and cur[4] == ARGV[6] then
  for i = 7, #ARGV do
    local base = tonumber(ARGV[i])
    if ARGV[i] == '*' or (base and base + 1 == version) then
      return {'replayed', redis.call('HGETALL', KEYS[1])}
    end
  end
end
local ok = false
for i = 7, #ARGV do
  if ARGV[i] == '*' or ARGV[i] == cur[2] then ok = true end
end
if not ok then return {'stale', cur[2]} end
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'item', ARGV[2], 'quantity', ARGV[3], 'updated_at', ARGV[4],
  'last_rid', ARGV[5], 'last_fp', ARGV[6])
return {'updated', redis.call('HGETALL', KEYS[1])}
"""
