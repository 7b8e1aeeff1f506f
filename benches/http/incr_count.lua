-- wrk, the lost-update phase: POST /incr for the first `seconds` (the script's argument,
-- to the next whole second after that), then GET /read until wrk stops, so the requests
-- wrk abandons at its end are reads. Counts the /incr answers (the /read ones carry
-- "user") and prints "ACKED <2xx> FAILED <other>" summed over the threads.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  stop_incr = os.time() + tonumber(args[1]) + 1
  acked, failed = 0, 0
  incr = wrk.format("POST", "/incr")
  read = wrk.format("GET", "/read")
end

function request()
  if os.time() < stop_incr then
    return incr
  end
  return read
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    if not string.find(body, '"user"', 1, true) then
      acked = acked + 1
    end
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local a, f = 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("acked")
    f = f + thread:get("failed")
  end
  io.write(string.format("ACKED %d FAILED %d\n", a, f))
end
