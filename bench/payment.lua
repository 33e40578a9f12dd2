-- wrk script: each request is a new payment with a fresh paying sandbox token, so no two
-- requests share an idempotency key. PRODUCT and KEY come from the environment.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
    thread:set("id", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    thread_id = id
    math.randomseed(os.time() * 1000 + id)
end

function request()
    counter = counter + 1
    local token = string.format("tok_sandbox_paid_%d_%d_%d", thread_id, counter, math.random(1, 1000000000))
    local body = string.format(
        '{"producto_id":%s,"token_tarjeta":"%s","nombre_cliente":"Bench","email_cliente":"bench@example.com"}',
        os.getenv("PRODUCT"), token)
    return wrk.format("POST", "/api/v1/payments/pagar-conekta",
        {["Content-Type"] = "application/json", ["X-API-Key"] = os.getenv("KEY")}, body)
end
