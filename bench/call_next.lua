-- wrk script: each wrk thread is one clerk at its own window, pressing
-- "call next" as fast as its connection allows. The driver (bench/call_next.py)
-- passes the windows and tokens in the CLERKS environment variable as
-- "window=token,window=token,...".
local clerks = {}
for pair in string.gmatch(os.getenv("CLERKS") or "", "[^,]+") do
  local window, token = string.match(pair, "([^=]+)=(.+)")
  table.insert(clerks, {window = window, token = token})
end
local next_index = 0

function setup(thread)
  next_index = next_index + 1
  local clerk = clerks[next_index]
  thread:set("path", "/api/v1/halls/BH/windows/" .. clerk.window .. "/" .. (os.getenv("ACTION") or "call-next"))
  thread:set("token", clerk.token)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = os.getenv("BODY") or ""
end

local statuses = {}

function request()
  return wrk.format(nil, path)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
