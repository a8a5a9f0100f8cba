-- Shared by the scripts that store new jobs. insert_jobs(first, now) stores and queues
-- the jobs whose arguments start at ARGV[first], 7 for each: uuid, record, job type,
-- queue, status, cost, run_at (ms). All or nothing: returns '' when every job is in,
-- or the uuid that is taken (by a stored job, or twice in the batch), with nothing
-- written.
local function insert_jobs(first, now)
    local seen = {}
    for i = first, #ARGV, 7 do
        local uuid = ARGV[i]
        if seen[uuid] or redis.call('EXISTS', job_key(uuid)) == 1 then
            return uuid
        end
        seen[uuid] = true
    end
    local woken = {}
    for i = first, #ARGV, 7 do
        local uuid, record, job_type, queue, status = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
        local cost, run_at = tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6])
        local key = job_key(uuid)
        local seq = redis.call('INCR', P .. ':seq')
        local priority = cjson.decode(record).priority or DEFAULT_PRIORITY
        redis.call('HSET', key, 'record', record, 'status', status, 'queue', queue, 'type', job_type,
            'cost', cost, 'seq', seq, 'cancel', '0', 'rev', 0, 'prio', priority)
        redis.call('ZADD', P .. ':all', seq, uuid)
        redis.call('ZADD', P .. ':status:' .. status, seq, uuid)
        redis.call('ZADD', P .. ':type:' .. job_type, seq, uuid)
        redis.call('HINCRBY', P .. ':counts', status .. '\t' .. job_type, 1)
        redis.call('SADD', P .. ':queues', queue)
        redis.call('SADD', P .. ':qtypes:' .. queue, job_type)
        if is_due_status(status) then
            redis.call('ZADD', P .. ':due:' .. queue .. ':' .. job_type,
                due_score(priority, run_at), due_member(seq, uuid))
            redis.call('HSET', key, 'run_at', run_at)
            if run_at <= now and not woken[queue] then
                woken[queue] = true
                redis.call('PUBLISH', P .. ':wake', queue)
            end
        end
    end
    return ''
end
