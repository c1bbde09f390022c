-- wrk script of the full-speed chaos run (loadtest/fullspeed): one wrk thread drives either
-- GET /whoami or keyed creates, as fast as the cluster answers.
--
--   wrk -s load.lua URL -- MODE TOKEN USER PREFIX ACKS
--
-- MODE "get": GET /whoami. MODE "post": POST /users/USER/orders, each with a fresh
-- Idempotency-Key that is also the order's item (PREFIX-<thread>-<n>), so that the verifier
-- can find a duplicate by item. Every 201 is appended to ACKS as one JSON line in the
-- verifier's format; statuses are counted per code and printed by done() as one JSON line
-- ("fullspeed-statuses {...}"), with the number of requests made ("fullspeed-sent N": those
-- still unanswered when wrk stopped were in flight) and wrk's socket errors.

local threads = {}
counter = 0  -- requests made by this thread (global, so that done() can read it)

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  mode, token, user, prefix, acks_path = args[1], args[2], args[3], args[4], args[5]
  statuses = {}
  acks = nil
  if mode == "post" then
    acks = assert(io.open(acks_path .. "." .. id, "w"))
  end
  auth = "Bearer " .. token
end

function request()
  counter = counter + 1
  if mode == "get" then
    return wrk.format("GET", "/whoami", {["Authorization"] = auth})
  end
  local key = prefix .. "-" .. id .. "-" .. counter
  local body = '{"item":"' .. key .. '","quantity":1}'
  return wrk.format("POST", "/users/" .. user .. "/orders", {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = key,
  }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 and acks ~= nil then
    local order = string.match(body, '"id"%s*:%s*"([^"]+)"')
    local item = string.match(body, '"item"%s*:%s*"([^"]+)"')
    acks:write('{"kind":"create","user":"' .. user .. '","order":"' .. (order or "?") ..
      '","item":"' .. (item or "?") .. '","quantity":1}\n')
    acks:flush()
  end
end

function done(summary, latency, requests)
  local total, sent = {}, 0
  for _, thread in ipairs(threads) do
    sent = sent + thread:get("counter")
    local seen = thread:get("statuses")
    for code, n in pairs(seen) do
      total[code] = (total[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(total) do
    table.insert(parts, '"' .. code .. '":' .. n)
  end
  io.write("fullspeed-statuses {" .. table.concat(parts, ",") .. "}\n")
  io.write("fullspeed-sent " .. sent .. "\n")
  io.write(string.format("fullspeed-errors {\"connect\":%d,\"read\":%d,\"write\":%d," ..
    "\"status\":%d,\"timeout\":%d}\n", summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout))
end
