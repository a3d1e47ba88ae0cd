-- wrk script for the checkout benchmark: every request is a new order (a unique idempotency key),
-- placed in turn by each of the signed-in bench consumers (as a store's many shoppers would).
--
--   wrk -t2 -c16 -d10s --latency -s checkout.lua URL -- <path> "<cookie>|<csrf token> ..." <form body>
--
-- The form body is already URL-encoded by run.py (amount, send_to); this script adds the consumer's
-- csrf_token and idempotency_key=<nonce>-<thread>-<counter>-<random> to each request. done() prints
-- one line that run.py parses: the status codes seen and how many answers were redirects to an order.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

local path, prefix, nonce
local shoppers = {}
local counter = 0
statuses = {}    -- per thread; read back in done()
to_order = 0     -- 303s whose Location is /s/<slug>/orders/<public id>

function init(args)
   path, prefix = args[1], args[3]
   for pair in string.gmatch(args[2], "%S+") do
      local cookie, token = string.match(pair, "^([^|]+)|(.+)$")
      table.insert(shoppers, {cookie = cookie, token = token})
   end
   math.randomseed(os.time() + 7919 * (tid or 0))
   nonce = string.format("%x%x", os.time(), math.random(0, 1048575))
end

function request()
   counter = counter + 1
   local shopper = shoppers[(counter + (tid or 0) * 7) % #shoppers + 1]
   local headers = {}
   for name, value in pairs(wrk.headers) do headers[name] = value end
   headers["Cookie"] = shopper.cookie
   headers["X-CSRFToken"] = shopper.token
   headers["Content-Type"] = "application/x-www-form-urlencoded"
   local key = string.format("wrk-%s-%d-%d-%d", nonce, tid or 0, counter, math.random(0, 999999999))
   return wrk.format("POST", path, headers, prefix .. "&csrf_token=" .. shopper.token .. "&idempotency_key=" .. key)
end

function response(status, hdrs, body)
   statuses[status] = (statuses[status] or 0) + 1
   local location = hdrs["Location"] or hdrs["location"] or ""
   if status == 303 and string.find(location, "/orders/", 1, true) then
      to_order = to_order + 1
   end
end

function done(summary, latency, requests)
   local total, orders = {}, 0
   for _, thread in ipairs(threads) do
      local seen = thread:get("statuses") or {}
      for status, count in pairs(seen) do
         total[status] = (total[status] or 0) + count
      end
      orders = orders + (thread:get("to_order") or 0)
   end
   local parts = {}
   for status, count in pairs(total) do
      table.insert(parts, string.format("%d=%d", status, count))
   end
   table.sort(parts)
   io.write(string.format("CHECKOUT-RESULT statuses=%s to_order=%d\n", table.concat(parts, ","), orders))
end
