dofile(os.getenv("BENCH_LUA") .. "/common.lua")
function build_requests()
  prepare(function(j)
    local t = tokens[j]
    return wrk.format("GET", "/v2/context/document/" .. t.id .. "/bench/s0", { ["Authorization"] = "Bearer " .. t.tok })
  end, #tokens)
end
