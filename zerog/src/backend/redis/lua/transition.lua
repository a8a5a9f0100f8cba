-- A change decided from a record that was read before: applied only if the job's
-- status and lease are still what was read.
-- ARGV: prefix, uuid, expected status, expected lease id or '', mode ('signal',
-- 'settle' or 'expire'), new status, record, run_at (ms) or '', now (ms)
-- Returns 1 if applied, 0 if the job changed in between.
local uuid, expected_status, expected_lease, mode = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local status, record, run_at, now = ARGV[6], ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
local key = job_key(uuid)
local f = redis.call('HMGET', key, 'status', 'lease', 'lease_exp')
if f[1] ~= expected_status or (f[2] or '') ~= expected_lease then
    return 0
end
if mode == 'signal' then
    redis.call('HSET', key, 'cancel', '1')
    return 1
end
if mode == 'expire' and not (tonumber(f[3]) < now) then
    return 0
end
settle(uuid, status, record, run_at, now)
return 1
