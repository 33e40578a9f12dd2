import API
import Domain
import JSON
import Logging

/// Turns one request into one response. Pure apart from the ports it is given, so tests call it
/// without libfcgi or nginx.
struct PortalHandler {
    let portal: PortalService
    /// Nil where payments are not wired (unit tests of the read side).
    let payments: PaymentService?
    let maxBodyBytes: Int
    let now: () -> Int64
    /// The Prometheus text for `GET /metrics`; nil where metrics are not wired (it answers 404).
    let metrics: (() -> String)?
    /// Conekta's webhooks; nil where they are not wired (the route answers 404).
    let webhooks: WebhookService?
    /// The process's share of threads for webhooks; nil: no limit (unit tests).
    let webhookGate: WebhookGate?
    private let rendered = RenderedCatalogues()

    init(
        portal: PortalService, payments: PaymentService? = nil, maxBodyBytes: Int, now: @escaping () -> Int64,
        metrics: (() -> String)? = nil, webhooks: WebhookService? = nil, webhookGate: WebhookGate? = nil
    ) {
        self.portal = portal
        self.payments = payments
        self.maxBodyBytes = maxBodyBytes
        self.now = now
        self.metrics = metrics
        self.webhooks = webhooks
        self.webhookGate = webhookGate
    }

    func respond(to request: Request, logger: Logger) -> Response {
        respond(to: request, matched: Route.match(method: request.method, path: request.path), logger: logger)
    }

    /// Answers a request whose route the caller matched already (the worker counts by route).
    func respond(to request: Request, matched: Result<Route, Route.Miss>, logger: Logger) -> Response {
        let route: Route
        switch matched {
        case .success(let matched): route = matched
        case .failure(.notFound): return ErrorResponse.notFound(requestID: request.requestID)
        case .failure(.methodNotAllowed(let allowed)): return ErrorResponse.methodNotAllowed(allowed: allowed, requestID: request.requestID)
        }
        do throws(ServiceError) {
            switch route {
            case .health:
                return health(request)
            case .configPublic:
                let grant = try authorize(request)
                return .json(200, Presenter.configPublic(grant))
            case .catalogue:
                let grant = try authorize(request)
                let body = rendered.body(routerID: grant.router.id, products: try portal.catalogue(for: grant))
                return Response(
                    status: 200, headers: [("Content-Type", "application/json; charset=utf-8"), ("X-Hotspot-Codigo", "ok")], body: body)
            case .catalogueItem(let id):
                let grant = try authorize(request)
                return .json(200, Presenter.product(try portal.product(id: id, for: grant)))
            case .payment:
                return try pay(request, logger: logger)
            case .claim:
                return try claim(request, logger: logger)
            case .conektaWebhook(let endpoint):
                return webhook(request, endpoint: endpoint, logger: logger)
            case .metrics:
                guard let metrics else { return ErrorResponse.notFound(requestID: request.requestID) }
                return Response(
                    status: 200, headers: [("Content-Type", PrometheusText.contentType), ("X-Hotspot-Codigo", "ok")],
                    body: Array(metrics().utf8))
            }
        } catch {
            switch error {
            case .internalFailure(let reason): Self.tagged(logger, request).error("request failed", metadata: ["reason": "\(reason)"])
            case .storeUnavailable: Self.tagged(logger, request).warning("database unavailable")
            default: break
            }
            return ErrorResponse.response(for: error, requestID: request.requestID)
        }
    }

    /// A Conekta event (CONTRACT §10): checked, recorded, applied within its budget, answered.
    private func webhook(_ request: Request, endpoint: String, logger: Logger) -> Response {
        guard let webhooks else { return ErrorResponse.notFound(requestID: request.requestID) }
        if let webhookGate {
            guard webhookGate.enter() else {
                Self.tagged(logger, request).notice(
                    "webhook deferred: the threads for webhooks are busy", metadata: ["limit": "\(webhookGate.limit)"])
                return ErrorResponse.response(for: .storeUnavailable, requestID: request.requestID)
            }
        }
        defer { webhookGate?.leave() }
        let reception = webhooks.receive(endpoint: endpoint, body: request.body, signature: request.headers["digest"])
        let log = Self.tagged(logger, request)
        switch reception {
        case .unknownEndpoint:
            log.notice("webhook to an unknown endpoint")
        case .badSignature(let company):
            log.warning("webhook signature refused", metadata: ["company": "\(company)"])
        case .malformed(let company):
            log.warning("signed webhook is not an event", metadata: ["company": "\(company)"])
        case .unavailable:
            log.warning("database unavailable: webhook not recorded, Conekta will send it again")
        case .received(let receipt):
            var metadata: Logger.Metadata = [
                "company": "\(receipt.companyID)", "event": "\(receipt.eventID)", "type": "\(receipt.type)",
                "outcome": "\(receipt.outcome)",
            ]
            if let order = receipt.orderID { metadata["order"] = "\(order)" }
            if let attempt = receipt.attemptID { metadata["attempt"] = "\(attempt)" }
            if receipt.redelivery { metadata["redelivery"] = "true" }
            if let warning = receipt.warning {
                metadata["warning"] = "\(warning)"
                log.warning("webhook event", metadata: metadata)
            } else {
                log.info("webhook event", metadata: metadata)
            }
        }
        return WebhookPresenter.answer(reception, requestID: request.requestID)
    }

    private func pay(_ request: Request, logger: Logger) throws(ServiceError) -> Response {
        let grant = try authorize(request)
        guard let payments else { throw .internalFailure("payments are not wired in this process") }
        let payment: PaymentRequest
        do {
            payment = try PaymentRequestDecoder.decode(body: request.body, contentType: request.contentType)
        } catch {
            switch error {
            case .unsupportedMediaType: throw .unsupportedMediaType
            case .invalid(let problems): throw .invalidRequest(problems)
            }
        }
        let idempotencyKey = request.headers["idempotency-key"]
        if let idempotencyKey, !Self.isValidIdempotencyKey(idempotencyKey) {
            throw .invalidRequest([FieldProblem(field: "Idempotency-Key", message: "De 1 a 255 caracteres ASCII visibles.")])
        }
        let product = try portal.product(id: payment.productID, for: grant)
        let outcome = try payments.pay(
            payment, grant: grant, product: product, idempotencyKey: idempotencyKey, requestID: request.requestID,
            remoteAddress: request.remoteAddress)
        Self.tagged(logger, request).info(
            "payment",
            metadata: [
                "attempt": "\(outcome.attemptID ?? "-")", "codigo": "\(outcome.response.codigo)", "router": "\(grant.router.id)",
                "order": "\(outcome.orderID ?? "-")", "status": "\(outcome.response.status)",
            ])
        var headers: [(String, String)] = [
            ("Content-Type", "application/json; charset=utf-8"), ("X-Hotspot-Codigo", outcome.response.codigo),
            ("X-Hotspot-Router", String(grant.router.id)),
        ]
        if let attempt = outcome.attemptID { headers.append(("X-Hotspot-Attempt", attempt)) }
        if let order = outcome.orderID { headers.append(("X-Hotspot-Transaction", order)) }
        if outcome.response.status == 409 { headers.append(("Retry-After", "2")) }
        if outcome.response.status == 429 { headers.append(("Retry-After", "600")) }
        let body =
            outcome.response.status == 200
            ? outcome.response.body : Self.appending(requestID: request.requestID, to: outcome.response.body)
        return Response(status: outcome.response.status, headers: headers, body: body)
    }

    /// A pay-later claim code redeemed (CONTRACT §12): the receipt once delivered (200), 202 while
    /// the money or the access is on its way, 410 once it ended without one, 404 for a code this
    /// router never sold, 429 after too many failed guesses. The code is never logged: the
    /// attempt it names is.
    private func claim(_ request: Request, logger: Logger) throws(ServiceError) -> Response {
        let grant = try authorize(request)
        guard let payments else { throw .internalFailure("payments are not wired in this process") }
        let claim: PaymentService.Claim
        do {
            claim = try ClaimRequestDecoder.decode(body: request.body, contentType: request.contentType)
        } catch {
            switch error {
            case .unsupportedMediaType: throw .unsupportedMediaType
            case .invalid(let problems): throw .invalidRequest(problems)
            }
        }
        let redemption = try payments.redeem(claim, grant: grant, remoteAddress: request.remoteAddress)
        var response: Response
        var attempt: PaymentAttempt?
        switch redemption {
        case .delivered(let receipt, let delivered):
            attempt = delivered
            response = Response(
                status: receipt.status,
                headers: [("Content-Type", "application/json; charset=utf-8"), ("X-Hotspot-Codigo", receipt.codigo)],
                body: receipt.body)
        case .pending(let pending):
            attempt = pending
            var body = PaymentPresenter.claimPending(pending)
            if case .object(var members) = body {
                members.append(("request_id", .string(request.requestID)))
                body = .object(members)
            }
            // Paid, its user being made: worth asking again soon.
            let retry: [(String, String)] = pending.state == .provisioning ? [("Retry-After", "5")] : []
            response = .json(202, body, codigo: "pago_pendiente", extraHeaders: retry)
        case .ended(let end, let ended):
            attempt = ended
            response = ErrorResponse.response(for: .claimEnded(end), requestID: request.requestID)
        case .unknownCode:
            response = ErrorResponse.response(for: .claimCodeUnknown, requestID: request.requestID)
        case .tooManyGuesses(let seconds):
            response = ErrorResponse.response(for: .tooManyClaimGuesses(retryAfterSeconds: seconds), requestID: request.requestID)
        }
        response.headers.append(("X-Hotspot-Router", String(grant.router.id)))
        if let attempt {
            response.headers.append(("X-Hotspot-Attempt", attempt.id))
            if let order = attempt.orderID { response.headers.append(("X-Hotspot-Transaction", order)) }
        }
        Self.tagged(logger, request).info(
            "claim",
            metadata: [
                "attempt": "\(attempt?.id ?? "-")", "codigo": "\(response.header("X-Hotspot-Codigo") ?? "-")",
                "router": "\(grant.router.id)", "state": "\(attempt?.state.rawValue ?? "-")", "status": "\(response.status)",
            ])
        return response
    }

    /// A stored error answer with this exchange's `request_id` as its last member, as every other
    /// error carries it. The stored body holds nothing of one exchange, since every retry of the
    /// request gets it; the receipt (200) is replayed byte for byte.
    static func appending(requestID: String, to body: [UInt8]) -> [UInt8] {
        guard body.last == UInt8(ascii: "}") else { return body }
        return body.dropLast() + Array(#","request_id":"#.utf8) + JSONValue.string(requestID).serialized() + [UInt8(ascii: "}")]
    }

    /// The logger with the request's id, made only where something is logged (a copy with
    /// metadata on every request showed up in the catalogue's profile).
    static func tagged(_ logger: Logger, _ request: Request) -> Logger {
        var logger = logger
        logger[metadataKey: "request_id"] = "\(request.requestID)"
        return logger
    }

    static func isValidIdempotencyKey(_ key: String) -> Bool {
        (1...255).contains(key.utf8.count) && key.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }
    }

    private func authorize(_ request: Request) throws(ServiceError) -> AccessGrant {
        try portal.authorize(
            apiKeyHeader: request.headers["x-api-key"], authorizationHeader: request.headers["authorization"], now: now())
    }

    private func health(_ request: Request) -> Response {
        let healthy = portal.health()
        let body = JSONValue.object([
            ("status", .string(healthy ? "ok" : "degradado")),
            ("database", .string(healthy ? "ok" : "no_disponible")),
        ])
        return .json(healthy ? 200 : 503, body, codigo: healthy ? "ok" : "servicio_no_disponible")
    }
}

/// The catalogue body this thread rendered last for each router: rendering was most of a
/// catalogue request's own work (perf), and the products change only when the cache reloads.
final class RenderedCatalogues {
    private var entries: [Int64: (products: [Product], body: [UInt8])] = [:]

    func body(routerID: Int64, products: [Product]) -> [UInt8] {
        if let entry = entries[routerID], entry.products == products { return entry.body }
        let body = JSONValue.array(products.map(Presenter.product)).serialized()
        if entries.count >= 1_000 { entries.removeAll(keepingCapacity: true) }
        entries[routerID] = (products, body)
        return body
    }
}
