-- GETs the checkout page of a different order each time: every view is an order's first.
local ids = {}
local counter = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  for line in io.lines(args[1]) do
    table.insert(ids, line)
  end
  counter = id - 1
  step = tonumber(args[2])
end

function request()
  local order_id = ids[(counter % #ids) + 1]
  counter = counter + step
  return wrk.format("GET", "/checkout?orderId=" .. order_id)
end
