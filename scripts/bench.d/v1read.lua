dofile(os.getenv("BENCH_LUA") .. "/common.lua")
function build_requests()
  prepare(function(j)
    local a = accounts[j]
    return wrk.format("GET", "/v1/account/" .. a.id .. "/bench/s0/properties/p0", { ["maven-api-key"] = a.key })
  end)
end
