-- Shared by the wrk scripts of scripts/bench: loads the seeded accounts
-- (BENCH_DIR/accounts.txt: accountId userId password apiKey basic) and
-- tokens (BENCH_DIR/tokens.txt: accountId token).
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
counter = 0
threadid = 0
function setup(thread)
  thread:set("threadid", math.random(1, 1000000))
end
function pick(list)
  counter = counter + 1
  return list[((counter + threadid) % #list) + 1]
end
