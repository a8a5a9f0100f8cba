-- ARGV: prefix, now (ms), unique key or '', its hold until (ms) or '', then per job:
-- uuid, record, job type, queue, status, cost, run_at (ms). All or nothing: returns ''
-- when every job is in, or the uuid that is taken (by a stored job, or twice in the
-- batch), with nothing written. With a unique key (one job only), returns
-- 'held:<uuid>' and writes nothing when a job holds the key: one that took it before
-- its hold ended and has not failed or been cancelled.
local now = tonumber(ARGV[2])
local unique = ARGV[3]
local ukey = P .. ':unique:' .. unique
if unique ~= '' then
    local holder = redis.call('HMGET', ukey, 'uuid', 'until')
    if holder[1] and tonumber(holder[2]) > now then
        local status = redis.call('HGET', job_key(holder[1]), 'status')
        if status and status ~= 'failed' and status ~= 'cancelled' then
            return 'held:' .. holder[1]
        end
    end
end
local taken = insert_jobs(5, now)
if taken == '' and unique ~= '' then
    redis.call('HSET', ukey, 'uuid', ARGV[5], 'until', ARGV[4])
    redis.call('PEXPIREAT', ukey, ARGV[4])
end
return taken
