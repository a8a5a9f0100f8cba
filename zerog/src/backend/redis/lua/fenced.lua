-- ARGV: prefix, uuid, lease id, mode ('progress' or 'end'), record, status, run_at (ms)
-- or '', lease expiry (ms), now (ms)
-- Returns 1 if written, 0 if the lease is no longer the job's.
local uuid, lease, mode, record, status = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local run_at, lease_exp, now = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local key = job_key(uuid)
if redis.call('HGET', key, 'lease') ~= lease then
    return 0
end
if mode == 'progress' then
    redis.call('HDEL', key, 'ov', 'started_at', 'updated_at')
    redis.call('HSET', key, 'record', record, 'lease_exp', lease_exp)
    redis.call('ZADD', P .. ':leases', lease_exp, uuid)
    return 1
end
settle(uuid, status, record, run_at, now)
return 1
