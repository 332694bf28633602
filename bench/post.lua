-- wrk script for the benchmark: sends one fixed JSON-RPC POST on every request and, when
-- the run ends, prints the exact figures as a single "BENCH_RESULT {json}" line.
-- Inputs (environment): WRK_BODY = request body, WRK_HEADERS = "Name: value" lines.

wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
for line in (os.getenv("WRK_HEADERS") or ""):gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%.0f,"p99_us":%.0f,' ..
    '"mean_us":%.1f,"max_us":%.0f,"errors":{"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
