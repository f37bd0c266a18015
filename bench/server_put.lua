-- wrk script: durable PUTs of a 100-byte value, each connection thread
-- writing its own sequence of keys.
local counter = 0
local thread_id = 0
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
end

wrk.method = "PUT"
wrk.body = string.rep("v", 100)
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("RUNKV_BENCH_TOKEN") or "bench")

function request()
  counter = counter + 1
  return wrk.format(nil, "/set/bench/put-" .. thread_id .. "-" .. (counter % 100000))
end
