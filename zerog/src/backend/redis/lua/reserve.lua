-- ARGV: prefix, now (ms), max cost, max jobs, lease expiry (ms), worker, start time
-- (record form), queues (JSON), job types (JSON), queue limits (JSON object), only this
-- uuid or '', lease ids (JSON, one per job that may be taken), max cost of one job
-- Returns uuid, cost, lease id, record for each job taken, oldest due first.
local now, free, max_jobs = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local lease_exp, worker, started = tonumber(ARGV[5]), ARGV[6], ARGV[7]
local queues, types = cjson.decode(ARGV[8]), cjson.decode(ARGV[9])
local limits, only, leases = cjson.decode(ARGV[10]), ARGV[11], cjson.decode(ARGV[12])
local max_job_cost = tonumber(ARGV[13])

local allowed_queue, allowed_type, running = {}, {}, {}
for _, queue in ipairs(queues) do
    allowed_queue[queue] = true
    if limits[queue] then
        running[queue] = redis.call('SCARD', P .. ':running:' .. queue)
    end
end
for _, job_type in ipairs(types) do
    allowed_type[job_type] = true
end

local function has_room(queue)
    return limits[queue] == nil or running[queue] < limits[queue]
end

-- The oldest due job that fits, as {uuid, queue, cost, score, member}, or nil.
local function next_job()
    if only ~= '' then
        local f = redis.call('HMGET', job_key(only), 'status', 'queue', 'type', 'cost', 'run_at', 'seq')
        if f[1] and is_due_status(f[1]) and tonumber(f[5]) <= now and allowed_queue[f[2]]
            and allowed_type[f[3]] and tonumber(f[4]) <= math.min(free, max_job_cost) and has_room(f[2]) then
            return {only, f[2], tonumber(f[4])}
        end
        return nil
    end
    local best = nil
    for _, queue in ipairs(queues) do
        if has_room(queue) then
            for _, job_type in ipairs(types) do
                local due = due_members(P .. ':due:' .. queue .. ':' .. job_type, now, 16)
                for i = 1, #due, 2 do
                    local member, score = due[i], tonumber(due[i + 1])
                    local uuid = string.sub(member, 18)
                    local cost = tonumber(redis.call('HGET', job_key(uuid), 'cost'))
                    if cost <= free and cost <= max_job_cost then
                        if best == nil or score < best[4] or (score == best[4] and member < best[5]) then
                            best = {uuid, queue, cost, score, member}
                        end
                        break
                    end
                end
            end
        end
    end
    return best
end

local taken = {}
for n = 1, max_jobs do
    if free <= 0 then
        break
    end
    local job = next_job()
    if job == nil then
        break
    end
    local uuid, queue, cost = job[1], job[2], job[3]
    move(uuid, 'running', nil, lease_exp, now)
    local key = job_key(uuid)
    redis.call('HSET', key, 'lease', leases[n], 'worker', worker, 'lease_exp', lease_exp,
        'ov', '1', 'started_at', started, 'updated_at', started)
    redis.call('HINCRBY', key, 'rev', 1)
    free = free - cost
    if running[queue] then
        running[queue] = running[queue] + 1
    end
    table.insert(taken, uuid)
    table.insert(taken, tostring(cost))
    table.insert(taken, leases[n])
    table.insert(taken, redis.call('HGET', key, 'record'))
    if only ~= '' then
        break
    end
end
return taken
