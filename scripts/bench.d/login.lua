dofile(os.getenv("BENCH_LUA") .. "/common.lua")
function build_requests()
  prepare(function(j)
    return wrk.format("GET", "/v2/authenticate/login", { ["Authorization"] = "Basic " .. accounts[j].basic })
  end)
end
