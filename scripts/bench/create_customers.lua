-- wrk: POST /api/v1/customers with a distinct, plausible customer per request.
-- Environment: BENCH_TOKEN (bearer token), BENCH_QUOTA (stop each thread after this many
-- answers; 0 = run for the whole duration), BENCH_SEED (varies names between runs).
local token = os.getenv("BENCH_TOKEN")
local quota = tonumber(os.getenv("BENCH_QUOTA") or "0")
local seed = tonumber(os.getenv("BENCH_SEED") or "1")

local first = {"Siti", "Nur", "Aminah", "Ahmad", "Mohd", "Farah", "Hafiz", "Aisyah", "Tan", "Lim", "Wong",
               "Raj", "Kumar", "Priya", "Mei", "Hui", "Zainal", "Rosli", "Azlan", "Fatimah"}
local words = {"Batik", "Songket", "Tenun", "Canting", "Sutera", "Indah", "Murni", "Warisan", "Pesona", "Seri",
               "Cahaya", "Bunga", "Kenanga", "Melati", "Teratai", "Pelangi", "Mutiara", "Delima", "Permata", "Anggun"}
local kinds = {"Enterprise", "Trading", "Sdn Bhd", "Boutique", "Gallery", "Collective", "Studio", "Emporium"}
local statuses = {"lead", "prospect", "active", "active", "active", "inactive", "churned"}
local tiers = {"bronze", "silver", "gold", "platinum"}
local tags = {"wholesale", "retail", "export", "hotel", "corporate", "wedding", "online", "vip"}
local states = {"Selangor", "Kelantan", "Terengganu", "Pulau Pinang", "Johor", "Melaka", "Sabah", "Sarawak"}

local counter = 0
local answers = 0
thread_no = 0  -- global: setup() sets it in each thread
local threads = {}

function setup(thread)
  thread:set("thread_no", #threads)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(seed * 1000 + thread_no)
end

local function pick(list) return list[math.random(#list)] end

function request()
  counter = counter + 1
  -- A number unique across threads and runs: the phone number and email are built from it.
  -- The phone takes it modulo 2,000,000, below the demo customers' 012 numbers (2,000,000 and
  -- up), which a bench customer would otherwise duplicate now and then (a 409). Up to ten
  -- seeds in a row (rounds of under 100,000 per thread) give distinct phone numbers.
  local n = (seed % 50) * 200000 + thread_no * 100000 + counter
  local name = pick(words) .. " " .. pick(words) .. " " .. pick(kinds) .. " " .. n
  local body = string.format(
    '{"name":"%s","type":"business","email":"orders%d@%s.example.my","phone":"+6012%07d",' ..
    '"status":"%s","tier":"%s","industry":"Textiles","tags":["%s","%s"],' ..
    '"addresses":[{"type":"billing","line1":"%d Jalan %s","city":"Kota Bharu","state":"%s",' ..
    '"postal_code":"%05d","country":"MY"}],"credit_limit":{"amount":"%d.00"}}',
    name, n, string.lower(pick(words)), n % 2000000, pick(statuses), pick(tiers), pick(tags), pick(tags),
    math.random(999), pick(words), pick(states), 10000 + math.random(89999), math.random(50) * 1000)
  return wrk.format("POST", "/api/v1/customers", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

function response(status, headers, body)
  answers = answers + 1
  if quota > 0 and answers >= quota then wrk.thread:stop() end
end

function done(summary, latency, requests)
  io.write(string.format("p95_us %d\np99_us %d\n", latency:percentile(95), latency:percentile(99)))
end
