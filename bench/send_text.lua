-- wrk script: POST {"phone": ..., "message": "bench <n>"} until each thread has had its share of
-- answers to those POSTs, then stop that thread. Used by bench/send_text.py:
--
--   wrk -t2 -c32 -d300s --latency -s bench/send_text.lua http://127.0.0.1:PORT \
--       -- PATH PHONE API_KEY MESSAGES THREADS [PACE_MS]
--
-- PATH      the send endpoint, e.g. /api/whatsapp/<instance id>/send
-- PHONE     recipient of every message
-- API_KEY   sent as x-api-key ("-" for none)
-- MESSAGES  POSTs over all threads (split evenly between them)
-- THREADS   the -t given to wrk (a thread cannot ask wrk for it)
-- PACE_MS   optional: each connection waits this long before each POST (a paced run: about
--           connections * 1000 / PACE_MS POSTs a second, less the time answers take)
--
-- wrk has no "stop after N requests" and keeps every connection busy. So each request is
-- booked in delay(), which wrk calls before it writes one: once a thread's share is booked,
-- its connections are parked (a delay of hours) instead, and the thread stops itself when the
-- last answer is in. wrk thus sends exactly MESSAGES POSTs and nothing else.
--
-- A thread that is done prints "BENCH_THREAD_DONE <id>" (the caller then interrupts wrk, whose
-- main thread otherwise sleeps for the whole -d), and done() prints one line
-- "BENCH_RESULT {json}" with the exact counts and the latency percentiles (microseconds).

-- main Lua state: setup() runs once per thread, done() at the end
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

-- per-thread Lua state; these globals are read back by done() through thread:get()
post_answers, post_ok, post_failed, posts_sent = 0, 0, 0, 0

local post_headers, path, phone
local quota, nthreads, booked, stopped, pace = 0, 1, 0, false, 0
local PARK_MS = 24 * 3600 * 1000
-- wrk (4.x) calls request() once on thread 0 right after init() to check what it returns,
-- without sending it: that call must not use up a message number.
local probe_pending = false

function init(args)
  path, phone = args[1], args[2]
  local api_key = args[3]
  local total = tonumber(args[4])
  nthreads = tonumber(args[5])
  pace = tonumber(args[6] or "0")
  quota = math.floor(total / nthreads)
  if id < total % nthreads then
    quota = quota + 1
  end
  post_headers = { ["Content-Type"] = "application/json" }
  if api_key ~= "-" then
    post_headers["x-api-key"] = api_key
  end
  probe_pending = (id == 0)
end

function delay()
  if booked < quota then
    booked = booked + 1
    return pace
  end
  return PARK_MS
end

function request()
  -- message numbers are unique over all threads
  local n = id + posts_sent * nthreads
  if probe_pending then
    probe_pending = false
  else
    posts_sent = posts_sent + 1
  end
  local body = string.format('{"phone": "%s", "message": "bench %d"}', phone, n)
  return wrk.format("POST", path, post_headers, body)
end

function response(status, headers, body)
  post_answers = post_answers + 1
  if status == 200 then
    post_ok = post_ok + 1
  else
    post_failed = post_failed + 1
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
  for _, t in ipairs(threads) do
    answers = answers + t:get("post_answers")
    ok = ok + t:get("post_ok")
    failed = failed + t:get("post_failed")
    sent = sent + t:get("posts_sent")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"duration_us": %d, "requests": %d, "bytes": %d, '
      .. '"posts_sent": %d, "post_answers": %d, "post_ok": %d, "post_failed": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p99": %d}}\n',
    summary.duration, summary.requests, summary.bytes,
    sent, answers, ok, failed,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)
  ))
  io.stdout:flush()
end
