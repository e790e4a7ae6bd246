dofile(os.getenv("BENCH_LUA") .. "/common.lua")
function request()
  local t = pick(tokens)
  return wrk.format("GET", "/v2/context/document/" .. t.id .. "/bench/s0", { ["Authorization"] = "Bearer " .. t.tok })
end
