"""The Redis store's Lua scripts (rhystic/signaling/store.py RedisStore)."""

# Lua keeps each multi-key step atomic across workers. Members of the away zset and
# of a worker's bound set are "<room_id> <peer_id>".
UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""
ADD = """
if redis.call('SISMEMBER', KEYS[1], ARGV[2]) == 1 then return 0 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[4])
return 1
"""
BIND = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local old = redis.call('HMGET', KEYS[1], 'sid', 'worker')
redis.call('HSET', KEYS[1], 'sid', ARGV[1], 'worker', ARGV[2], 'away_until', '0')
redis.call('ZREM', KEYS[2], ARGV[3])
if old[2] and old[2] ~= '' then redis.call('SREM', ARGV[4] .. old[2], ARGV[3]) end
redis.call('SADD', KEYS[3], ARGV[3])
return old[1] or ''
"""
AWAY = """
if redis.call('HGET', KEYS[1], ARGV[4]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'sid') == '' then return 0 end
redis.call('HSET', KEYS[1], 'sid', '', 'away_until', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('SREM', KEYS[3], ARGV[3])
return 1
"""
REMOVE = """
local seat = redis.call('HGETALL', KEYS[1])
if #seat == 0 then redis.call('ZREM', KEYS[3], ARGV[1]) return false end
if ARGV[2] ~= '' then
  local state = redis.call('HMGET', KEYS[1], 'sid', 'away_until')
  if state[1] ~= '' or tonumber(state[2]) > tonumber(ARGV[2]) then return false end
end
local worker = redis.call('HGET', KEYS[1], 'worker')
redis.call('DEL', KEYS[1], KEYS[5])
redis.call('SREM', KEYS[2], ARGV[5])
redis.call('ZREM', KEYS[3], ARGV[1])
if worker and worker ~= '' then redis.call('SREM', ARGV[6] .. worker, ARGV[1]) end
redis.call('SET', KEYS[4], ARGV[4], 'EX', ARGV[3])
if redis.call('SCARD', KEYS[2]) == 0 then redis.call('SREM', KEYS[6], ARGV[7]) end
return seat
"""
# The epoch names this Redis's current life: a Redis that restarted empty (or was
# flushed) has none, and whoever looks first writes a new one.
EPOCH = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) end
return epoch
"""
# A worker puts back a seat whose socket it still holds. ARGV: sid, worker, member,
# peer_id, room_id, then the seat's fields.
RESTORE = """
local current = redis.call('HMGET', KEYS[1], 'sid', 'worker')
if current[1] then
  if current[1] == ARGV[1] then
    redis.call('SADD', KEYS[2], ARGV[4])
    redis.call('SADD', KEYS[3], ARGV[5])
    redis.call('SADD', KEYS[4], ARGV[3])
    return 'kept'
  end
  if current[1] ~= '' then return 'moved' end
  redis.call('HSET', KEYS[1], 'sid', ARGV[1], 'worker', ARGV[2], 'away_until', '0')
  redis.call('ZREM', KEYS[5], ARGV[3])
  redis.call('SADD', KEYS[4], ARGV[3])
  return 'rebound'
end
if redis.call('EXISTS', KEYS[6]) == 1 then return 'gone' end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[5])
redis.call('SADD', KEYS[4], ARGV[3])
return 'restored'
"""
