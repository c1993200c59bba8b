-- GET requests for bench/reads.py. BENCH_PATH is the path; when BENCH_CHATS is set, a "%s" in
-- it is replaced by a random one of the seeded chats' phone numbers (7900 + 7 digits).
local key = os.getenv("BENCH_KEY")
local path = os.getenv("BENCH_PATH")
local chats = tonumber(os.getenv("BENCH_CHATS") or "0")
local headers = { ["x-api-key"] = key }

request = function()
  if chats > 0 then
    local phone = string.format("7900%07d", math.random(0, chats - 1))
    return wrk.format("GET", string.format(path, phone), headers)
  end
  return wrk.format("GET", path, headers)
end
