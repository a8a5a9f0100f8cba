-- ARGV: prefix, now (ms), unique key or '', its hold until (ms) or '', then per job:
-- uuid, record, job type, queue, status, cost, run_at (ms). All or nothing: returns ''
-- when every job is in, or the uuid that is taken (by a stored job, or twice in the
-- batch), with nothing written. With a unique key (one job only), returns
-- 'held:<uuid>' and writes nothing when a job holds the key: one that took it before
-- its hold ended and has not failed or been cancelled.
local now = tonumber(ARGV[2])
local FIRST = 5
local unique = ARGV[3]
if unique ~= '' then
    local ukey = P .. ':unique:' .. unique
    local holder = redis.call('HMGET', ukey, 'uuid', 'until')
    if holder[1] and tonumber(holder[2]) > now then
        local status = redis.call('HGET', job_key(holder[1]), 'status')
        if status and status ~= 'failed' and status ~= 'cancelled' then
            return 'held:' .. holder[1]
        end
    end
end
local seen = {}
for i = FIRST, #ARGV, 7 do
    local uuid = ARGV[i]
    if seen[uuid] or redis.call('EXISTS', job_key(uuid)) == 1 then
        return uuid
    end
    seen[uuid] = true
end
if unique ~= '' then
    local ukey = P .. ':unique:' .. unique
    redis.call('HSET', ukey, 'uuid', ARGV[FIRST], 'until', ARGV[4])
    redis.call('PEXPIREAT', ukey, ARGV[4])
end
local woken = {}
for i = FIRST, #ARGV, 7 do
    local uuid, record, job_type, queue, status = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
    local cost, run_at = tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6])
    local key = job_key(uuid)
    local seq = redis.call('INCR', P .. ':seq')
    redis.call('HSET', key, 'record', record, 'status', status, 'queue', queue, 'type', job_type,
        'cost', cost, 'seq', seq, 'cancel', '0', 'rev', 0)
    redis.call('ZADD', P .. ':all', seq, uuid)
    redis.call('ZADD', P .. ':status:' .. status, seq, uuid)
    redis.call('ZADD', P .. ':type:' .. job_type, seq, uuid)
    redis.call('HINCRBY', P .. ':counts', status .. '\t' .. job_type, 1)
    redis.call('SADD', P .. ':queues', queue)
    redis.call('SADD', P .. ':qtypes:' .. queue, job_type)
    if is_due_status(status) then
        redis.call('ZADD', P .. ':due:' .. queue .. ':' .. job_type, run_at, due_member(seq, uuid))
        redis.call('HSET', key, 'run_at', run_at)
        if run_at <= now and not woken[queue] then
            woken[queue] = true
            redis.call('PUBLISH', P .. ':wake', queue)
        end
    end
end
return ''
