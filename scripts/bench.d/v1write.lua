dofile(os.getenv("BENCH_LUA") .. "/common.lua")
-- Distinct sessions per request slot, and a body naming the slot, so that
-- the writes spread over many documents of many accounts.
function build_requests()
  local tag = math.random(1, 1000000)
  prepare(function(j)
    local a = accounts[((j - 1) % #accounts) + 1]
    local body = '{"w' .. tag .. '_' .. j .. '":{"n":' .. j .. ',"text":"written under load"}}'
    return wrk.format("PATCH", "/v1/account/" .. a.id .. "/bench/w" .. (j % 10) .. "/properties",
      { ["maven-api-key"] = a.key, ["Content-Type"] = "application/json" }, body)
  end, math.max(#accounts, 1000))
end
