-- wrk script for the benchmark: each request picks one of the given paths at random (GET, or POST
-- with a JSON body when WRK_BODY is set), an optional pause paces the connection (WRK_DELAY_MS),
-- and the summary is printed as one JSON line that loadtest/wrk.py reads.
local paths = {}
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")
local body = os.getenv("WRK_BODY")

function init(args)
  for i = 1, #args do paths[i] = args[i] end
  if #paths == 0 then paths[1] = "/" end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  local path = paths[math.random(#paths)]
  if body then
    return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", path)
end

if delay_ms > 0 then
  function delay() return delay_ms end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "timeouts": %d, "bad_status": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write, errors.timeout,
    errors.status, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
