-- wrk script of the peekroute benchmark: POSTs SOAP 1.1 requests, each with
-- one of BENCH_KEYS session keys, and prints one RESULT line from done().
--
-- The body comes from BENCH_TEMPLATE, written by `stickiness -template`: a
-- body with @ characters where the key goes. Every request is rendered once,
-- in init, so that request() only picks the next one: each of BENCH_THREADS
-- threads owns every BENCH_THREADS-th key and renders the requests of its own
-- keys (one body per key, built once), so that even 1 MiB bodies for 1000
-- keys take 1 GiB in all rather than 1 GiB per thread.

local key_format = "sess-%08d" -- must match bench/stickiness
local placeholder = string.rep("@", #string.format(key_format, 0))

local next_id = 0

function setup(thread)
   next_id = next_id + 1
   thread:set("thread_id", next_id)
end

function init(args)
   local keys = tonumber(os.getenv("BENCH_KEYS") or "1000")
   local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
   local file = assert(io.open(assert(os.getenv("BENCH_TEMPLATE"), "BENCH_TEMPLATE not set"), "rb"))
   local template = file:read("*a")
   file:close()
   local from, to = template:find(placeholder, 1, true)
   assert(from, "no key placeholder in the template")
   local before, after = template:sub(1, from - 1), template:sub(to + 1)
   local headers = {
      ["Content-Type"] = "text/xml; charset=utf-8",
      ["SOAPAction"] = '"ussd"',
   }
   requests = {}
   for k = thread_id, keys, threads do
      requests[#requests + 1] = wrk.format("POST", nil, headers,
         before .. string.format(key_format, k) .. after)
   end
   template, before, after = nil, nil, nil
   collectgarbage()
   count = #requests
   i = 0
end

function request()
   i = i + 1
   if i > count then
      i = 1
   end
   return requests[i]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d status_errors=%d connect=%d read=%d write=%d timeout=%d\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      e.status, e.connect, e.read, e.write, e.timeout))
end
