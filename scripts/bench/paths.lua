-- wrk: GET request paths read from a file (one per line), picked at random, with a bearer
-- token. Environment: BENCH_TOKEN, BENCH_PATHS (the file). Prints p95/p99 at the end, which
-- wrk's own --latency table lacks.
local token = os.getenv("BENCH_TOKEN")
local file = os.getenv("BENCH_PATHS")
local paths = {}
for line in io.lines(file) do
  if #line > 0 then table.insert(paths, line) end
end
if #paths == 0 then error("no paths in " .. tostring(file)) end

thread_no = 0
local threads = {}
function setup(thread)
  thread:set("thread_no", #threads)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(7 + thread_no)
end

local headers = {["Authorization"] = "Bearer " .. token}
function request()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end

function done(summary, latency, requests)
  io.write(string.format("p95_us %d\np99_us %d\n", latency:percentile(95), latency:percentile(99)))
end
