dofile(os.getenv("BENCH_LUA") .. "/common.lua")
function request()
  local a = pick(accounts)
  local body = '{"w' .. threadid .. '_' .. (counter % 1000) .. '":{"n":' .. counter .. ',"text":"written under load"}}'
  return wrk.format("PATCH", "/v1/account/" .. a.id .. "/bench/w" .. (threadid % 10) .. "/properties",
    { ["maven-api-key"] = a.key, ["Content-Type"] = "application/json" }, body)
end
