-- Shared by every script. ARGV[1] is the key prefix; a job's keys are:
--   P:job:<uuid>        hash: record (JSON), status, queue, type, cost, seq, run_at,
--                       lease, worker, lease_exp, cancel, finished, rev (the revision,
--                       advanced by every change), and the overlay
--                       ov/started_at/updated_at that a reservation sets (see mod.rs)
--   P:all, P:status:<s>, P:type:<t>   zsets of uuids by insertion sequence (listing)
--   P:due:<queue>:<type>              zset of "<seq, 16 digits>:<uuid>" by priority and
--                                     due time: due_score(priority, run_at (ms))
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

-- Each priority (0 the most urgent, 9 the least) has a band of scores of its own, 2^44
-- ms wide (past the year 2500), so that a due set is ordered by priority, then by due
-- time; every score stays an exact integer of a double.
local BAND = 17592186044416
local LOWEST_PRIORITY = 9
local DEFAULT_PRIORITY = 5

local function due_score(priority, run_at)
    return priority * BAND + run_at
end

-- A job's priority, as stored at insert; jobs stored before priorities have the default.
local function priority_of(key)
    return tonumber(redis.call('HGET', key, 'prio')) or DEFAULT_PRIORITY
end

-- The jobs of the due set `key` due at `now`: up to `limit` members and scores of each
-- band, the most urgent band first, until `limit` are found.
local function due_members(key, now, limit)
    local out = {}
    for priority = 0, LOWEST_PRIORITY do
        local base = priority * BAND
        local due = redis.call('ZRANGEBYSCORE', key, base, base + now, 'WITHSCORES', 'LIMIT', 0, limit)
        for i = 1, #due do
            table.insert(out, due[i])
        end
        if #out >= 2 * limit then
            break
        end
    end
    return out
end

-- How many jobs of the due set `key` are due at `now`, and the due time of the oldest.
local function due_count(key, now)
    local count, oldest = 0, nil
    for priority = 0, LOWEST_PRIORITY do
        local base = priority * BAND
        count = count + redis.call('ZCOUNT', key, base, base + now)
        local first = redis.call('ZRANGEBYSCORE', key, base, base + now, 'WITHSCORES', 'LIMIT', 0, 1)
        if #first > 0 then
            local at = tonumber(first[2]) - base
            if oldest == nil or at < oldest then
                oldest = at
            end
        end
    end
    return count, oldest
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
        redis.call('ZADD', P .. ':due:' .. queue .. ':' .. job_type,
            due_score(priority_of(key), run_at), due_member(seq, uuid))
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
