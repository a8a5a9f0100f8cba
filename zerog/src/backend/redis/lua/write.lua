-- Fenced writes, each applied on its own. ARGV: prefix, now (ms), then per write: uuid,
-- fence ('lease' or 'rev'), its value, change ('progress', 'settle' or 'cancel'),
-- record, status, run_at (ms) or '', lease expiry (ms) or ''.
-- Returns 1 for each write applied, 0 for each whose fence no longer holds.
local now = tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV, 8 do
    local uuid, fence, value, change = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    local record, status, run_at, lease_exp = ARGV[i + 4], ARGV[i + 5], tonumber(ARGV[i + 6]), tonumber(ARGV[i + 7])
    local key = job_key(uuid)
    local f = redis.call('HMGET', key, 'status', 'lease', 'rev')
    local holds
    if fence == 'lease' then
        holds = f[2] == value
    else
        holds = f[1] ~= false and (f[3] or '0') == value
    end
    if holds and (change == 'progress' or change == 'cancel') then
        holds = f[1] == 'running'
    end
    if not holds then
        table.insert(out, 0)
    else
        if change == 'progress' then
            redis.call('HDEL', key, 'ov', 'started_at', 'updated_at')
            redis.call('HSET', key, 'record', record, 'lease_exp', lease_exp)
            redis.call('ZADD', P .. ':leases', lease_exp, uuid)
        elseif change == 'cancel' then
            redis.call('HSET', key, 'cancel', '1')
        else
            settle(uuid, status, record, run_at, now)
        end
        redis.call('HINCRBY', key, 'rev', 1)
        table.insert(out, 1)
    end
end
return out
