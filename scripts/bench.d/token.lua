dofile(os.getenv("BENCH_LUA") .. "/common.lua")
function build_requests()
  prepare(function(j)
    local a = accounts[j]
    return wrk.format("POST", "/oauth2/token", { ["Content-Type"] = "application/x-www-form-urlencoded" },
      "grant_type=client_credentials&client_id=" .. a.user .. "&client_secret=" .. a.pw)
  end)
end
