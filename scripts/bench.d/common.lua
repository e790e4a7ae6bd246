-- Shared by the wrk scripts of scripts/bench: loads the seeded accounts
-- (BENCH_DIR/accounts.txt: accountId userId password apiKey basic) and
-- tokens (BENCH_DIR/tokens.txt: accountId token). Each script calls
-- prepare(build) once per thread: build(i) returns request i, formatted
-- up front, so that wrk spends no Lua time per request (it shares the CPU
-- with the server, and the hello point runs with no script at all).
local dir = os.getenv("BENCH_DIR")
accounts, tokens = {}, {}
for line in io.lines(dir .. "/accounts.txt") do
  local id, user, pw, key, basic = line:match("(%S+) (%S+) (%S+) (%S+) (%S+)")
  accounts[#accounts + 1] = { id = id, user = user, pw = pw, key = key, basic = basic }
end
for line in io.lines(dir .. "/tokens.txt") do
  local id, tok = line:match("(%S+) (%S+)")
  tokens[#tokens + 1] = { id = id, tok = tok }
end

local reqs, n, i = {}, 0, 0
-- prepare builds count requests (default: one per account), starting at a
-- random offset so that wrk's threads do not move in step.
function prepare(build, count)
  n = count or #accounts
  local offset = math.random(0, n - 1)
  for j = 1, n do
    reqs[j] = build(((j + offset) % n) + 1)
  end
end
function request()
  i = i % n + 1
  return reqs[i]
end
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
  build_requests()
end
