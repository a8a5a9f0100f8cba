-- The worker directory: P:workers is a zset of ids by expiry (ms), P:worker:<id> a hash
-- of info and command. ARGV[2] names the operation.
local op = ARGV[2]
if op == 'heartbeat' then
    -- ARGV: prefix, 'heartbeat', id, info, expiry (ms), now (ms)
    local id, info, expires, now = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
    local key = P .. ':worker:' .. id
    redis.call('HSET', key, 'info', info)
    redis.call('HSETNX', key, 'command', 'none')
    redis.call('ZADD', P .. ':workers', expires, id)
    -- Entries of workers long gone are of no use to anyone.
    for _, gone in ipairs(redis.call('ZRANGEBYSCORE', P .. ':workers', '-inf', now - 3600000)) do
        redis.call('DEL', P .. ':worker:' .. gone)
        redis.call('ZREM', P .. ':workers', gone)
    end
    return redis.call('HGET', key, 'command')
elseif op == 'list' then
    -- ARGV: prefix, 'list', now (ms)
    local out = {}
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':workers', '(' .. ARGV[3], '+inf')) do
        local info = redis.call('HGET', P .. ':worker:' .. id, 'info')
        if info then
            table.insert(out, info)
        end
    end
    return out
elseif op == 'command' then
    -- ARGV: prefix, 'command', id, command, now (ms)
    local expires = redis.call('ZSCORE', P .. ':workers', ARGV[3])
    if expires and tonumber(expires) > tonumber(ARGV[5]) then
        redis.call('HSET', P .. ':worker:' .. ARGV[3], 'command', ARGV[4])
        return 1
    end
    return 0
elseif op == 'remove' then
    redis.call('ZREM', P .. ':workers', ARGV[3])
    redis.call('DEL', P .. ':worker:' .. ARGV[3])
    return 1
end
return redis.error_reply('unknown operation ' .. op)
