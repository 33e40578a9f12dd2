// Lean stand-ins for the router and Conekta, for `make bench` only: nginx serves them through njs,
// so they cost a few µs of C per call, no Python and no garbage collector sharing the two cores
// with the product under test. They answer exactly the calls a paying purchase makes (and, for
// the router, the calls the reconciler makes to finish an attempt: bench/drain.py), in the shapes
// the sandboxes in sandbox/ answer them (router.py, conekta.py), after the configured latency
// ($standin_latency_ms, counted from the handler's start). Every other call gets a RouterOS- or
// Conekta-shaped error: the tests use the full sandboxes, never these.

var ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

function randomText(alphabet, length) {
    var text = "";
    for (var i = 0; i < length; i++) {
        text += alphabet.charAt(Math.floor(Math.random() * alphabet.length));
    }
    return text;
}

function later(r, status, body) {
    var ms = Number(r.variables.standin_latency_ms) || 0;
    r.headersOut["Content-Type"] = "application/json";
    setTimeout(function () { r.return(status, body); }, ms);
}

// RouterOS writes every value as a string (docs/sources.md A2).
function routerosJSON(object) {
    var fields = [];
    for (var name in object) {
        fields.push(JSON.stringify(name) + ":" + JSON.stringify(String(object[name])));
    }
    return "{" + fields.join(",") + "}";
}

function routerError(r, status, message, detail) {
    later(r, status, JSON.stringify({ error: status, message: message, detail: detail }));
}

function router(r) {
    if (!r.headersIn["Authorization"]) {
        return routerError(r, 401, "Unauthorized");
    }
    var uri = r.uri;
    if (r.method === "GET" && uri === "/rest/ip/hotspot/user/profile") {
        var name = r.args.name || "default";
        return later(r, 200, "[" + routerosJSON({
            ".id": "*2", "name": name, "shared-users": "1", "session-timeout": "0s", "idle-timeout": "none",
            "add-mac-cookie": "true", "mac-cookie-timeout": "3d", "default": "false"
        }) + "]");
    }
    if (r.method === "PUT" && uri === "/rest/ip/hotspot/user") {
        var body = JSON.parse(r.requestText);
        var row = { ".id": "*" + (Math.floor(Math.random() * 0xFFFFFFF) + 1).toString(16).toUpperCase() };
        row.name = body.name;
        row.server = body.server || "all";
        row.profile = body.profile || "default";
        row.disabled = body.disabled || "false";
        for (var field in body) {
            if (row[field] === undefined) row[field] = body[field];
        }
        var counters = ["uptime", "bytes-in", "bytes-out", "packets-in", "packets-out"];
        for (var i = 0; i < counters.length; i++) row[counters[i]] = counters[i] === "uptime" ? "0s" : "0";
        row.dynamic = "false";
        return later(r, 200, routerosJSON(row));
    }
    var item = uri.match(/^\/rest\/ip\/hotspot\/user\/(\*[0-9A-Fa-f]+)$/);
    if (r.method === "PATCH" && item) {
        var values = JSON.parse(r.requestText);
        values[".id"] = item[1];
        return later(r, 200, routerosJSON(values));
    }
    // What the reconciler calls to finish an attempt (`make bench`'s drain): a user's removal
    // (an empty 200, as RouterOS answers it) and a look-up by name, which finds no user here.
    if (r.method === "DELETE" && item) {
        return later(r, 200, "");
    }
    if (r.method === "GET" && uri === "/rest/ip/hotspot/user") {
        return later(r, 200, "[]");
    }
    return routerError(r, 400, "Bad Request", "bench stand-in: not a call a purchase makes");
}

function conektaError(r, status, type, code, message) {
    later(r, status, JSON.stringify({
        object: "error", type: type, log_id: randomText("0123456789abcdef", 24),
        details: [{ code: code, param: null, message: message, debug_message: message }]
    }));
}

function conekta(r) {
    if (!r.headersIn["Authorization"]) {
        return conektaError(r, 401, "authentication_error", "conekta.errors.authentication.missing_key",
            "Please include your private key in your request.");
    }
    if (r.method !== "POST" || r.uri !== "/orders") {
        return conektaError(r, 404, "resource_not_found_error", "conekta.errors.resource_not_found.entity",
            "bench stand-in: not a call a purchase makes");
    }
    var body = JSON.parse(r.requestText);
    var charge = (body.charges || [])[0];
    var token = charge && charge.payment_method && charge.payment_method.token_id;
    if (!/^tok_sandbox_paid_/.test(token || "")) {
        return conektaError(r, 422, "parameter_validation_error",
            "conekta.errors.parameter_validation.payment_method.token_id.nonexistent_token", "The token does not exist.");
    }
    var total = 0;
    var items = [];
    var id = "ord_" + randomText(ALPHANUMERIC, 17);
    var now = Math.floor(Date.now() / 1000);
    for (var i = 0; i < body.line_items.length; i++) {
        var line = body.line_items[i];
        total += line.unit_price * line.quantity;
        items.push({
            name: line.name, description: line.description || null, unit_price: line.unit_price, quantity: line.quantity,
            sku: line.sku || null, tags: line.tags || null, brand: line.brand || null, type: null, object: "line_item",
            id: "line_item_" + randomText(ALPHANUMERIC, 17), parent_id: id, metadata: line.metadata || {},
            antifraud_info: line.antifraud_info || {}
        });
    }
    var customer = body.customer_info;
    var order = {
        livemode: false, amount: total, currency: body.currency.toUpperCase(), payment_status: "paid", amount_refunded: 0,
        split_payment: null,
        customer_info: {
            email: customer.email, phone: customer.phone, name: customer.name, corporate: customer.corporate || null,
            customer_id: null, date_of_birth: null, national_id: null, object: "customer_info"
        },
        channel: null, fiscal_entity: null, object: "order", id: id, metadata: body.metadata || {}, is_refundable: true,
        processing_mode: null, created_at: now, updated_at: now,
        line_items: { object: "list", has_more: false, total: items.length, data: items },
        shipping_lines: null, tax_lines: null, discount_lines: null,
        charges: {
            object: "list", has_more: false, total: 1, data: [{
                id: randomText("0123456789abcdef", 24), livemode: false, created_at: now, currency: body.currency.toUpperCase(),
                failure_code: null, failure_message: null, monthly_installments: null, device_fingerprint: null,
                session_id: null, channel: null,
                payment_method: {
                    name: "Cliente Sandbox", exp_month: "12", exp_year: "30", auth_code: randomText("0123456789", 6),
                    object: "card_payment", type: "credit", normalized_device_fingerprint: null, last4: "4242",
                    brand: "visa", issuer: "BANAMEX", account_type: "Credit", contract_id: null, country: "MX",
                    fraud_score: null, fraud_indicators: [], token_id: token, antifraud_is_self_service_rules: false,
                    three_ds_flow_required: false
                },
                object: "charge", description: "Payment from order", is_refundable: true,
                reference_id: charge.reference_id || null, status: "paid", amount: total, paid_at: now, customer_id: "",
                order_id: id, refunds: null
            }]
        }
    };
    return later(r, 200, JSON.stringify(order));
}

export default { router, conekta };
