-- POSTs create-payment-intent with a fresh externalId each time (or /echo for the baseline).
local counter = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  key = args[1]
  path = args[2]
end

function request()
  counter = counter + 1
  local body = string.format('{"externalId": "bench-%d-%d", "amount": 10}', id, counter)
  return wrk.format("POST", path,
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key }, body)
end
