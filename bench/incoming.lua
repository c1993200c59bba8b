-- wrk script: exactly MESSAGES sandbox incoming messages at a fixed pace, spread over the
-- instances, each one distinct. Used by bench/webhooks.py (its latency phase):
--
--   wrk -t2 -c32 -d300s --latency -s bench/incoming.lua http://127.0.0.1:PORT \
--       -- INSTANCES API_KEY MESSAGES THREADS RATE
--
-- INSTANCES comma-separated instance ids; message n goes to POST /api/sandbox/<id n mod k>/incoming
-- API_KEY   sent as x-api-key
-- MESSAGES  POSTs over all threads (split evenly between them)
-- THREADS   the -t given to wrk (a thread cannot ask wrk for it)
-- RATE      POSTs a second over all threads (0: as fast as the connections go)
--
-- wrk has no rate option. Each thread keeps a schedule instead: its k-th POST is due at
-- start + k / (RATE / THREADS), and delay(), which wrk calls before each request of a
-- connection, waits until the next free slot is due (a connection answered early waits, one
-- that falls behind goes at once). So the pace holds whatever the answer times are, as long
-- as the thread has a connection free when a slot comes (connections / (RATE / THREADS)
-- seconds of answer time); the achieved rate is printed by the caller next to the asked one.
--
-- Like bench/send_text.lua, each POST is booked in delay(): once a thread's share is booked,
-- its connections are parked (a delay of hours), and the thread stops itself when its last
-- answer is in ("BENCH_THREAD_DONE <id>"); done() prints "BENCH_RESULT {json}".

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

-- per-thread globals, read back by done() through thread:get()
post_answers, post_ok, post_failed, posts_sent = 0, 0, 0, 0
first_ms, last_ms = 0, 0  -- monotonic time of the first POST booked and of the last answer

local headers, instances
local quota, nthreads, booked, stopped, interval_ms, started_ms = 0, 1, 0, false, 0, nil
local PARK_MS = 24 * 3600 * 1000
-- wrk (4.x) calls request() once on thread 0 right after init() without sending it
local probe_pending = false

function init(args)
  instances = {}
  for instance_id in string.gmatch(args[1], "[^,]+") do
    table.insert(instances, instance_id)
  end
  local total = tonumber(args[3])
  nthreads = tonumber(args[4])
  local rate = tonumber(args[5])
  if rate > 0 then
    interval_ms = 1000 * nthreads / rate
  end
  quota = math.floor(total / nthreads)
  if id < total % nthreads then
    quota = quota + 1
  end
  headers = { ["Content-Type"] = "application/json", ["x-api-key"] = args[2] }
  probe_pending = (id == 0)
end

function delay()
  if booked >= quota then
    return PARK_MS
  end
  local now = now_ms()
  if started_ms == nil then
    started_ms = now
    first_ms = now
  end
  local due = started_ms + booked * interval_ms
  booked = booked + 1
  if due <= now then
    return 0
  end
  return math.ceil(due - now)
end

function request()
  local n = id + posts_sent * nthreads  -- unique over all threads
  if probe_pending then
    probe_pending = false
  else
    posts_sent = posts_sent + 1
  end
  local instance_id = instances[(n % #instances) + 1]
  local body = string.format(
    '{"from": "7900%07d", "body": "bench %d \\u4f60\\u597d", "pushName": "Bench"}', n % 1000, n
  )
  return wrk.format("POST", "/api/sandbox/" .. instance_id .. "/incoming", headers, body)
end

function response(status, headers, body)
  post_answers = post_answers + 1
  last_ms = now_ms()
  if status == 200 then
    post_ok = post_ok + 1
  else
    post_failed = post_failed + 1
    if post_failed <= 3 then
      io.stderr:write(string.format("incoming answered %d: %s\n", status, body))
    end
  end
  if post_answers >= quota and not stopped then
    stopped = true
    io.write(string.format("BENCH_THREAD_DONE %d\n", id))
    io.stdout:flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local answers, ok, failed, sent = 0, 0, 0, 0
  local first, last = nil, 0
  for _, t in ipairs(threads) do
    answers = answers + t:get("post_answers")
    ok = ok + t:get("post_ok")
    failed = failed + t:get("post_failed")
    sent = sent + t:get("posts_sent")
    local f = t:get("first_ms")
    if f > 0 and (first == nil or f < first) then
      first = f
    end
    last = math.max(last, t:get("last_ms"))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"duration_us": %d, "requests": %d, "bytes": %d, '
      .. '"posts_sent": %d, "post_answers": %d, "post_ok": %d, "post_failed": %d, '
      .. '"paced_ms": %.3f, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p99": %d}}\n',
    summary.duration, summary.requests, summary.bytes,
    sent, answers, ok, failed,
    last - (first or last),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)
  ))
  io.stdout:flush()
end
