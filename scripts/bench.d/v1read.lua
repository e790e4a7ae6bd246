dofile(os.getenv("BENCH_LUA") .. "/common.lua")
function request()
  local a = pick(accounts)
  return wrk.format("GET", "/v1/account/" .. a.id .. "/bench/s0/properties/p0", { ["maven-api-key"] = a.key })
end
