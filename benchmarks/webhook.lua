-- wrk script: POST one signed webhook body with a fresh X-GitHub-Delivery each request.
-- Body file, signature, event and id prefix come from the environment.
local body_file = os.getenv("CT_BODY")
local f = assert(io.open(body_file, "rb"))
local body = f:read("*a")
f:close()

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local counter = 0
function init(args)
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-GitHub-Event"] = os.getenv("CT_EVENT")
  wrk.headers["X-Hub-Signature-256"] = os.getenv("CT_SIGNATURE")
end

function request()
  counter = counter + 1
  wrk.headers["X-GitHub-Delivery"] = string.format("%s-%d-%d", os.getenv("CT_PREFIX"), tid, counter)
  return wrk.format()
end
