-- Replays pre-signed Stripe events, each once, spread across wrk's threads, to the URL's path.
local lines = {}
local counter = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  local path = args[1]
  for line in io.lines(path) do
    local sep = line:find("\t", 1, true)
    table.insert(lines, { line:sub(1, sep - 1), line:sub(sep + 1) })
  end
  counter = id - 1
  step = tonumber(args[2])
end

function request()
  local entry = lines[(counter % #lines) + 1]
  counter = counter + step
  return wrk.format("POST", nil,
    { ["Content-Type"] = "application/json", ["Stripe-Signature"] = entry[1] }, entry[2])
end
