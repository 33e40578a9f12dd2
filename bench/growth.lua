-- wrk script of the growth section (bench/growth.py): payment.lua's payments, each from a device
-- (mac_cliente) drawn from the same MACS addresses the loaded ledger's attempts came from, so the
-- card-testing count per device reads a real index. PRODUCT, KEY and MACS come from the environment.
local counter = 0
local thread_id = 0
local threads = {}
local macs = tonumber(os.getenv("MACS") or "1000")

function setup(thread)
    thread:set("id", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    thread_id = id
    math.randomseed(os.time() * 1000 + id)
end

-- Device m of the ledger's pool: 02:00 and m's four bytes (bench/growth.py writes them alike).
local function mac(m)
    return string.format("02:00:%02X:%02X:%02X:%02X", math.floor(m / 16777216) % 256, math.floor(m / 65536) % 256,
        math.floor(m / 256) % 256, m % 256)
end

function request()
    counter = counter + 1
    local token = string.format("tok_sandbox_paid_%d_%d_%d", thread_id, counter, math.random(1, 1000000000))
    local body = string.format(
        '{"producto_id":%s,"token_tarjeta":"%s","nombre_cliente":"Bench","email_cliente":"bench@example.com","mac_cliente":"%s"}',
        os.getenv("PRODUCT"), token, mac(math.random(0, macs - 1)))
    return wrk.format("POST", "/api/v1/payments/pagar-conekta",
        {["Content-Type"] = "application/json", ["X-API-Key"] = os.getenv("KEY")}, body)
end
