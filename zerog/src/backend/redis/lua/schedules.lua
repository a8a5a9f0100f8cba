-- Schedules. ARGV: prefix, now (ms), op, name, then the op's arguments. Keys:
--   P:schedules          set of schedule names
--   P:schedule:<name>    hash: def (the Schedule as JSON), source, paused ('0'/'1'),
--                        last_tick (ms: every tick up to it is fired or skipped),
--                        last_run_at (ms: the tick of the latest job)
local now, op, name = tonumber(ARGV[2]), ARGV[3], ARGV[4]
local key = P .. ':schedule:' .. name
local FIELDS = { 'def', 'source', 'paused', 'last_tick', 'last_run_at' }

if op == 'put' then
    -- ARGV[5]: create, replace or declare; ARGV[6]: the definition; ARGV[7]: source.
    local mode, exists = ARGV[5], redis.call('EXISTS', key) == 1
    if (mode == 'create' and exists) or (mode == 'replace' and not exists) then
        return 0
    end
    if not exists then
        redis.call('HSET', key, 'paused', '0', 'last_tick', now)
        redis.call('SADD', P .. ':schedules', name)
    end
    redis.call('HSET', key, 'def', ARGV[6], 'source', ARGV[7])
    return 1
elseif op == 'get' then
    return redis.call('HMGET', key, unpack(FIELDS))
elseif op == 'list' then
    local all = {}
    for _, each in ipairs(redis.call('SMEMBERS', P .. ':schedules')) do
        table.insert(all, each)
        for _, value in ipairs(redis.call('HMGET', P .. ':schedule:' .. each, unpack(FIELDS))) do
            table.insert(all, value)
        end
    end
    return all
elseif op == 'delete' then
    redis.call('SREM', P .. ':schedules', name)
    return redis.call('DEL', key)
elseif op == 'pause' then
    -- ARGV[5]: '1' to pause, '0' to resume, which moves the cursor up to now.
    if redis.call('EXISTS', key) == 0 then
        return 0
    end
    redis.call('HSET', key, 'paused', ARGV[5])
    if ARGV[5] == '0' and tonumber(redis.call('HGET', key, 'last_tick')) < now then
        redis.call('HSET', key, 'last_tick', now)
    end
    return 1
elseif op == 'fire' then
    -- ARGV[5]: the tick (ms); then the tick's job as insert_jobs takes it, or nothing
    -- to skip the tick. Returns '' when the cursor is at or past the tick (or the
    -- schedule is paused or gone), 'fired', or 'taken:<uuid>' with nothing written.
    local tick = tonumber(ARGV[5])
    local state = redis.call('HMGET', key, 'paused', 'last_tick')
    if not state[2] or state[1] == '1' or tonumber(state[2]) >= tick then
        return ''
    end
    if #ARGV > 5 then
        local taken = insert_jobs(6, now)
        if taken ~= '' then
            return 'taken:' .. taken
        end
        redis.call('HSET', key, 'last_run_at', tick)
    end
    redis.call('HSET', key, 'last_tick', tick)
    return 'fired'
end
return redis.error_reply('unknown schedules op ' .. op)
