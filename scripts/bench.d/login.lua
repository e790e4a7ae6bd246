dofile(os.getenv("BENCH_LUA") .. "/common.lua")
function request()
  local a = pick(accounts)
  return wrk.format("GET", "/v2/authenticate/login", { ["Authorization"] = "Basic " .. a.basic })
end
