-- Shared by every script. ARGV[1] is the key prefix; a job's keys are:
--   P:job:<uuid>        hash: record (JSON), status, queue, type, cost, seq, run_at,
--                       lease, worker, lease_exp, cancel, finished, rev (the revision,
--                       advanced by every change), and the overlay
--                       ov/started_at/updated_at that a reservation sets (see mod.rs)
--   P:all, P:status:<s>, P:type:<t>   zsets of uuids by insertion sequence (listing)
--   P:due:<queue>:<type>              zset of "<seq, 16 digits>:<uuid>" by due time (ms)
--   P:leases                          zset of uuids by lease expiry (ms)
--   P:running:<queue>                 set of running uuids (queue limits)
--   P:finished:<s>                    zset of uuids by finish time (ms) (retention)
--   P:counts                          hash "<status>\t<type>" -> jobs
--   P:queues, P:qtypes:<queue>        the queues, and the job types seen in each
local P = ARGV[1]

local function job_key(uuid)
    return P .. ':job:' .. uuid
end

local function due_member(seq, uuid)
    return string.format('%016d', seq) .. ':' .. uuid
end

local function is_due_status(status)
    return status == 'queued' or status == 'waiting'
end

local function is_finished(status)
    return status == 'done' or status == 'failed' or status == 'cancelled'
end

-- Moves a job from the indexes of its current status to those of `new`.
-- `run_at` (ms) is needed for queued and waiting, `lease_exp` (ms) for running.
local function move(uuid, new, run_at, lease_exp, now)
    local key = job_key(uuid)
    local f = redis.call('HMGET', key, 'status', 'queue', 'type', 'seq')
    local old, queue, job_type, seq = f[1], f[2], f[3], tonumber(f[4])
    if is_due_status(old) then
        redis.call('ZREM', P .. ':due:' .. queue .. ':' .. job_type, due_member(seq, uuid))
    elseif old == 'running' then
        redis.call('ZREM', P .. ':leases', uuid)
        redis.call('SREM', P .. ':running:' .. queue, uuid)
    elseif is_finished(old) then
        redis.call('ZREM', P .. ':finished:' .. old, uuid)
    end
    if old ~= new then
        redis.call('ZREM', P .. ':status:' .. old, uuid)
        redis.call('ZADD', P .. ':status:' .. new, seq, uuid)
        redis.call('HINCRBY', P .. ':counts', old .. '\t' .. job_type, -1)
        redis.call('HINCRBY', P .. ':counts', new .. '\t' .. job_type, 1)
    end
    if is_due_status(new) then
        redis.call('ZADD', P .. ':due:' .. queue .. ':' .. job_type, run_at, due_member(seq, uuid))
        redis.call('HSET', key, 'run_at', run_at)
    else
        redis.call('HDEL', key, 'run_at')
    end
    if new == 'running' then
        redis.call('ZADD', P .. ':leases', lease_exp, uuid)
        redis.call('SADD', P .. ':running:' .. queue, uuid)
    elseif is_finished(new) then
        redis.call('ZADD', P .. ':finished:' .. new, now, uuid)
        redis.call('HSET', key, 'finished', now)
    end
    redis.call('HSET', key, 'status', new)
    return queue
end

-- Ends a run or a wait: the job leaves its lease and overlay behind and takes `record`.
local function settle(uuid, new, record, run_at, now)
    local queue = move(uuid, new, run_at, nil, now)
    local key = job_key(uuid)
    redis.call('HDEL', key, 'lease', 'worker', 'lease_exp', 'ov', 'started_at', 'updated_at')
    redis.call('HSET', key, 'record', record)
    if is_due_status(new) and run_at <= now then
        redis.call('PUBLISH', P .. ':wake', queue)
    end
end
