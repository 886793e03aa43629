-- wrk script: SEND (ms.PublishEvent text) spread over the conversations
-- listed in convs.lua (written by run.sh), keep-alive connections.
dofile(os.getenv("CONVS_LUA"))

local counter = 0
local bodies = {}
for i, c in ipairs(convs) do
  bodies[i] = '{"kind":"req","id":"' .. i .. '","type":"ms.PublishEvent","body":{"dialogId":"' .. c.id ..
    '","event":{"type":"ContentEvent","contentType":"text/plain","message":"load test message"}}}'
end

request = function()
  counter = counter + 1
  local i = (counter % #convs) + 1
  local c = convs[i]
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = app,
    ["X-LP-ON-BEHALF"] = c.jws,
  }, bodies[i])
end

done = function(summary, latency, requests)
  -- errors.status counts non-2xx/3xx answers.
  io.write(string.format("non-2xx or socket errors: %d\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
