-- Listing, retention and statistics. ARGV[2] names the operation.
local op = ARGV[2]

-- The fields a reader needs to rebuild a record: record, status, ov, started_at,
-- updated_at.
local function load(uuid)
    local f = redis.call('HMGET', job_key(uuid), 'record', 'status', 'ov', 'started_at', 'updated_at')
    return {f[1] or '', f[2] or '', f[3] or '', f[4] or '', f[5] or ''}
end

-- Whether the job `uuid` passes a listing's filters: its type, its queue, and the
-- conditions of a parameter search (ParamSearch::conditions, as JSON).
local function passes(uuid, job_type, queue, conditions)
    local key = job_key(uuid)
    if job_type ~= '' and redis.call('HGET', key, 'type') ~= job_type then
        return false
    end
    if queue ~= '' and redis.call('HGET', key, 'queue') ~= queue then
        return false
    end
    if conditions == nil then
        return true
    end
    local record = redis.call('HGET', key, 'record')
    if not record then
        return false
    end
    local params = cjson.decode(record).params
    for _, condition in ipairs(conditions) do
        local value = params
        for _, name in ipairs(condition.path) do
            if type(value) ~= 'table' then
                return false
            end
            value = value[name]
            if value == nil then
                return false
            end
        end
        if condition.kind == 'equals' then
            if value ~= condition.value then
                return false
            end
        else
            if type(value) ~= 'table' then
                return false
            end
            local found = false
            for _, element in ipairs(value) do
                if element == condition.value then
                    found = true
                    break
                end
            end
            if not found then
                return false
            end
        end
    end
    return true
end

-- Removes the finished job `uuid`, whose status is `status`, from every index.
local function remove_finished(uuid, status)
    local key = job_key(uuid)
    local job_type = redis.call('HGET', key, 'type')
    redis.call('ZREM', P .. ':finished:' .. status, uuid)
    redis.call('ZREM', P .. ':status:' .. status, uuid)
    redis.call('ZREM', P .. ':all', uuid)
    if job_type then
        redis.call('ZREM', P .. ':type:' .. job_type, uuid)
        redis.call('HINCRBY', P .. ':counts', status .. '\t' .. job_type, -1)
    end
    redis.call('DEL', key)
end

if op == 'list' then
    -- ARGV: prefix, 'list', index zset, job type or '', queue or '', search conditions
    -- (JSON) or '', cursor or '', how many, most index entries to look at.
    -- Returns where the scan stopped early ('' if it did not), then seven fields a job.
    local index, job_type, queue, search = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
    local cursor, want, budget = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
    local conditions = nil
    if search ~= '' then
        conditions = cjson.decode(search)
    end
    local max = '+inf'
    if cursor ~= '' then
        max = '(' .. cursor
    end
    local out, found, scanned = {''}, 0, 0
    while found < want do
        if scanned >= budget then
            out[1] = string.sub(max, 2)
            break
        end
        local batch = redis.call('ZREVRANGEBYSCORE', index, max, '-inf', 'WITHSCORES', 'LIMIT', 0,
            math.min(256, budget - scanned))
        if #batch == 0 then
            break
        end
        for i = 1, #batch, 2 do
            local uuid, seq = batch[i], batch[i + 1]
            max = '(' .. seq
            scanned = scanned + 1
            if passes(uuid, job_type, queue, conditions) then
                table.insert(out, seq)
                table.insert(out, uuid)
                for _, v in ipairs(load(uuid)) do
                    table.insert(out, v)
                end
                found = found + 1
                if found == want then
                    break
                end
            end
        end
    end
    return out
elseif op == 'delete_one' then
    -- ARGV: prefix, 'delete_one', uuid. Deletes the job if it has finished; returns 1
    -- if it did, else 0.
    local uuid = ARGV[3]
    local status = redis.call('HGET', job_key(uuid), 'status')
    if status == 'done' or status == 'failed' or status == 'cancelled' then
        remove_finished(uuid, status)
        return 1
    end
    return 0
elseif op == 'delete' then
    -- ARGV: prefix, 'delete', finished before (ms), most to delete, statuses...
    -- Returns the count per status, in the order given.
    local before, budget = ARGV[3], tonumber(ARGV[4])
    local counts = {}
    for i = 5, #ARGV do
        local status = ARGV[i]
        local uuids = redis.call('ZRANGEBYSCORE', P .. ':finished:' .. status, '-inf', '(' .. before,
            'LIMIT', 0, budget)
        for _, uuid in ipairs(uuids) do
            remove_finished(uuid, status)
        end
        budget = budget - #uuids
        table.insert(counts, #uuids)
    end
    return counts
elseif op == 'queues' then
    -- ARGV: prefix, 'queues', now (ms)
    -- Returns queue, due, running, oldest due time (ms) or '', not yet due for each
    -- busy queue.
    local now = tonumber(ARGV[3])
    local out = {}
    for _, queue in ipairs(redis.call('SMEMBERS', P .. ':queues')) do
        local due, waiting, oldest = 0, 0, nil
        for _, job_type in ipairs(redis.call('SMEMBERS', P .. ':qtypes:' .. queue)) do
            local key = P .. ':due:' .. queue .. ':' .. job_type
            waiting = waiting + redis.call('ZCARD', key)
            local count, first = due_count(key, now)
            due = due + count
            if first and (oldest == nil or first < oldest) then
                oldest = first
            end
        end
        local running = redis.call('SCARD', P .. ':running:' .. queue)
        if waiting > 0 or running > 0 then
            table.insert(out, queue)
            table.insert(out, tostring(due))
            table.insert(out, tostring(running))
            table.insert(out, oldest and string.format('%d', oldest) or '')
            table.insert(out, tostring(waiting - due))
        end
    end
    return out
end
return redis.error_reply('unknown operation ' .. op)
