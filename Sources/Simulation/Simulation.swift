import API
import Domain

/// A seeded, single-threaded simulation of several server instances, each with request workers
/// and reconcilers, running the real saga (`PaymentService`, `PaymentFlow`, `PaymentPresenter`)
/// over one simulated ledger, router and Conekta account. The simulation chooses at every step
/// which run moves next, when the clock jumps, which call fails and how, and when an instance
/// crashes; a seed determines all of it, so a failure replays exactly (`make simulate SEED=…`).
/// After the request, the world goes on (CONTRACT §10): the merchant refunds in Conekta's
/// dashboard, card holders charge back, a 3-D Secure payment lands after its decline, devices log
/// in; every order change is an event Conekta delivers late, twice or out of order to a webhook
/// worker of each instance, which re-reads the order and applies it (`PaymentService`'s order
/// reports), interleaved with the requests and reconcilers.
/// Some customers pay later (CONTRACT §12): their order waits for cash at a store or a SPEI
/// transfer, which they make (or not, and it expires; Conekta is sometimes slow to expire one,
/// and the product cancels it), now and then into a reference that was dead already; its
/// `order.paid` webhook is sometimes lost, so only the poll finds the money; they redeem their
/// claim code before and after paying.
/// After the workload it lets everything settle and checks CONTRACT §7 (I1–I4), §10 (I6, and I7
/// each time a report is applied: applied again at once, it must change nothing), §12 (every paid
/// pay-later order ends delivered or refunded, no router user before its money, none for an
/// expired one, a code answers as its attempt stands), that every attempt is final and that every
/// customer was told one final answer.
public final class Simulation {
    public struct Options: Sendable {
        public var instances = 2
        public var workersPerInstance = 3
        public var reconcilersPerInstance = 1
        public var customers = 10
        /// Steps of the workload phase before the faults stop.
        public var workloadSteps = 1_500
        public var faults = true
        /// Dashboard refunds, chargebacks, late payments, logins and their webhook events.
        public var afterTheRequest = true
        public init() {}
    }

    public struct Report: Sendable {
        public var seed: UInt64
        public var attempts: Int
        public var steps: Int
        public var finalStates: [String: Int]
        public var violations: [String]
        public var trace: [String]
        /// Order reports applied by the webhook workers (each one also applied a second time, I7).
        public var reportsApplied = 0
        /// Accesses revoked (attempts that ended `revoked`).
        public var revoked: Int { finalStates["revoked"] ?? 0 }
        public var passed: Bool { violations.isEmpty }
        /// Pay-later attempts by final state.
        public var payLaterStates: [String: Int] = [:]
        /// Claims answered, by how.
        public var claimsAnswered: [String: Int] = [:]
        /// `order.paid` webhooks of cash and SPEI payments lost (the poll delivered them).
        public var lostWebhooks = 0
    }

    private struct Customer {
        let number: Int
        let token: String
        /// The `Idempotency-Key` header, or nil: the card token is the key.
        let header: String?
        var answers: [StoredResponse] = []
        var inFlight = 0
        var submissions = 0
        var done = false
        /// The customer finishes a 3-D Secure challenge after being told it failed.
        let completesChallengeLate: Bool
        /// Card, or cash or SPEI later.
        let method: PaymentMethod
        /// The claim code of a pay-later purchase, once an answer showed it.
        var code: String?
        /// A pay-later customer who goes to pay (most do).
        let pays: Bool
    }

    private enum Job {
        case request(customer: Int)
        case reconciler
        /// Receives Conekta's events and applies each order's report.
        case webhook
    }

    /// One event on its way from Conekta: its body names only the order.
    private struct Delivery {
        let eventID: String
        let type: String
        let orderID: String
        var dueAt: Int64
    }

    private struct Task {
        let job: Job
        let instance: Int
        let generation: Int
        let service: PaymentService
        var run: PaymentRun?
        var begun = false
        /// The event a webhook worker's run applies, and the order as it read it.
        var report: (delivery: Delivery, order: GatewayOrder)? = nil
    }

    private let options: Options
    private let seed: UInt64
    private var random: SimulatedRandom
    private let clock = SimulatedClock()
    private let ledger: SimulatedLedger
    private let router = SimulatedRouter(profiles: ["1hora"])
    private let gateway: SimulatedGateway
    private let verifiedProfiles = VerifiedProfiles()
    private var customers: [Customer] = []
    private var tasks: [Task] = []
    private var generations: [Int]
    private var alive: [Bool]
    private var trace: [String] = []
    private var steps = 0
    private var routerDown = false
    private var faultRate = 0.0
    private var workers = 0
    private var midRunViolations: [String] = []
    /// Events sent and not applied yet (a redelivery of an applied one is dropped on arrival).
    private var deliveries: [Delivery] = []
    private var events = 0
    private var appliedEvents: Set<String> = []
    private var reportsApplied = 0
    /// Orders the merchant refunded in part: the access is kept (CONTRACT §10).
    private var partlyRefundedInDashboard: Set<String> = []
    /// Claims answered, by how (`delivered`, `pending`, `expired`…).
    private var claimsAnswered: [String: Int] = [:]
    /// Pay-later orders whose `order.paid` webhook was lost.
    private var lostWebhooks = 0
    /// The next cash or SPEI payment's webhook is lost.
    private var losesNextPayment = false

    private let settings: PaymentService.Settings = {
        var settings = PaymentService.Settings()
        settings.leaseSeconds = 56
        settings.retry = RetrySchedule(baseSeconds: 2, ceilingSeconds: 15)
        settings.declinesPerMAC = 0
        settings.declinesPerAddress = 0
        settings.declinesPerRouter = 0
        settings.chargeTimeoutSeconds = 15
        // Short, so that references expire and expired orders are cancelled within a run.
        settings.payLaterCancelGraceSeconds = 600
        return settings
    }()
    private let company = Company(
        id: 1, name: "Café", contactPhone: "5512345678", payLater: PayLaterSettings(methods: [.oxxo, .spei], expirySeconds: 900))
    private let hotspot = Router(id: 1, companyID: 1, name: "Terraza")
    private let product = Product(
        id: 1, companyID: 1, routerID: 1, name: "1 Hora", price: Money(cents: 1500, currency: "MXN"), profileName: "1hora")

    public init(seed: UInt64, options: Options = Options()) {
        self.seed = seed
        self.options = options
        random = SimulatedRandom(seed: seed)
        ledger = SimulatedLedger(clock: clock)
        gateway = SimulatedGateway(clock: clock)
        generations = Array(repeating: 0, count: options.instances)
        alive = Array(repeating: true, count: options.instances)
        for number in 0..<options.customers {
            let kind = ["paid", "paid", "paid", "paid", "declined", "3ds", "oxxo", "spei"][random.below(8)]
            let method = PaymentMethod(rawValue: kind) ?? .card
            // The payment page sends an Idempotency-Key with every purchase; a pay-later one always.
            customers.append(
                Customer(
                    number: number, token: method.isPayLater ? "" : "\(kind)_\(number)",
                    header: method.isPayLater || random.chance(0.5) ? "key-\(number)" : nil,
                    completesChallengeLate: kind == "3ds" && random.chance(0.5), method: method, pays: random.chance(0.75)))
        }
        router.fault = { [unowned self] operation in self.fault(operation) }
        gateway.fault = { [unowned self] operation in self.fault(operation) }
        // One cash or SPEI order in five is not expired by Conekta on time.
        gateway.lazy = { id in (Int(id.dropFirst(4)) ?? 0) % 5 == 0 }
        if options.afterTheRequest { gateway.notify = { [unowned self] order in self.send(order) } }
        for instance in 0..<options.instances { startReconcilers(instance) }
    }

    /// Runs the workload, lets it settle, checks the invariants.
    public func run() -> Report {
        workload()
        settle()
        let violations = check()
        var states: [String: Int] = [:]
        var payLater: [String: Int] = [:]
        for row in ledger.rows.values {
            states[row.attempt.state.rawValue, default: 0] += 1
            if row.attempt.method.isPayLater { payLater[row.attempt.state.rawValue, default: 0] += 1 }
        }
        return Report(
            seed: seed, attempts: ledger.rows.count, steps: steps, finalStates: states, violations: violations, trace: trace,
            reportsApplied: reportsApplied, payLaterStates: payLater, claimsAnswered: claimsAnswered, lostWebhooks: lostWebhooks)
    }

    // MARK: The workload

    private func workload() {
        for _ in 0..<options.workloadSteps {
            steps += 1
            switch random.below(options.afterTheRequest ? 107 : 100) {
            case 0..<22: submit()
            case 22..<82: stepSomeTask()
            case 82..<90: advance(seconds: Double(random.below(3_000)) / 1_000)
            case 90..<92: advance(seconds: Double(20 + random.below(100)))
            case 92: if random.chance(0.1) { advance(seconds: 700) }  // past the activation deadline
            case 93..<96: if options.faults { changeWeather() }
            case 96..<98: if options.faults { crashOrRestart() }
            case 98..<100: completeChallenges()
            case 100: if random.chance(0.3) { dashboard() }
            case 101..<103: logInOrOut()
            case 103..<105: payAtTheStore()
            default: redeemSomeCode()
            }
        }
    }

    /// Time passes; Conekta expires the cash and SPEI orders whose time is up.
    private func advance(seconds: Double) {
        clock.advance(seconds: seconds)
        gateway.expireDue()
    }

    /// A customer sends (or sends again) their payment, to a random live instance.
    private func submit() {
        let waiting = customers.indices.filter { !customers[$0].done && customers[$0].submissions < 6 }
        guard !waiting.isEmpty, let instance = liveInstance() else { return }
        let number = waiting[random.below(waiting.count)]
        // A double click: a second copy while the first is still out.
        guard customers[number].inFlight == 0 || random.chance(0.3) else { return }
        customers[number].inFlight += 1
        customers[number].submissions += 1
        tasks.append(
            Task(
                job: .request(customer: number), instance: instance, generation: generations[instance],
                service: service(instance, nextWorker())))
        log("customer \(number) submits to instance \(instance)")
    }

    private func stepSomeTask() {
        guard !tasks.isEmpty else { return }
        step(random.below(tasks.count))
        retire()
        checkAccess()
    }

    /// I1 at every moment, not only at the end: an enabled user belongs to an attempt whose
    /// order was paid (being enabled or made, delivered, or paid and being refunded), or whose
    /// access is being taken back (revoking: its order was refunded or charged back since, I6).
    /// A pay-later attempt has no user at all before its money, and none once expired (§12).
    private func checkAccess() {
        guard midRunViolations.count < 3 else { return }
        let at = "t+\((clock.now - 1_800_000_000_000_000) / 1_000) ms"
        for user in router.users.values {
            let id = String(user.comment.dropFirst("hotspot-pay:".count))
            let attempt = ledger.rows[id]?.attempt
            let state = attempt?.state
            if !user.disabled, ![.paid, .provisioning, .delivered, .refunding, .revoking].contains(state) {
                midRunViolations.append("I1 at \(at): \(short(id)) has an enabled user while \(state?.rawValue ?? "unrecorded")")
            }
            if let attempt, attempt.method.isPayLater {
                let paid = attempt.orderID.map(gateway.everPaid.contains) ?? false
                if !paid || state == .expired {
                    midRunViolations.append(
                        "§12 at \(at): pay-later \(short(id)) has a router user while \(state?.rawValue ?? "-"), order paid: \(paid)")
                }
            }
        }
    }

    /// One step of task `index`: the request's beginning, a reconciler's claim, or one action of a run.
    private func step(_ index: Int) {
        var task = tasks[index]
        guard alive[task.instance], task.generation == generations[task.instance] else { return }
        let who = "i\(task.instance).\(task.generation)"
        if var run = task.run {
            let action = run.next
            let outcome = task.service.step(&run)
            log(
                "\(who) \(short(run.attempt.id)) \(action) → \(outcome.map { "ends \($0.codigo) \($0.state?.rawValue ?? "-")" } ?? "\(run.next)")"
            )
            if let outcome {
                finish(&task, outcome)
            } else {
                task.run = run
            }
            tasks[index] = task
            return
        }
        switch task.job {
        case .request(let number):
            let customer = customers[number]
            let request = PaymentRequest(
                productID: 1, cardToken: customer.token, customerName: "Cliente \(number)",
                customerEmail: "cliente\(number)@example.com", method: customer.method)
            do {
                switch try task.service.begin(
                    request, grant: AccessGrant(keyID: "key_1", company: company, router: hotspot), product: product,
                    idempotencyKey: customer.header, requestID: nil)
                {
                case .answered(let outcome):
                    log("\(who) customer \(number) answered at once: \(outcome.codigo)")
                    finish(&task, outcome)
                case .running(let run):
                    log("\(who) customer \(number) begins \(short(run.attempt.id))")
                    task.run = run
                }
            } catch {
                log("\(who) customer \(number) refused: \(error)")
                customers[number].inFlight -= 1
                task.begun = true
            }
        case .reconciler:
            do {
                if case .running(let run)? = try task.service.claimDue(limit: 1).first {
                    log("\(who) reconciler claims \(short(run.attempt.id)) (\(run.attempt.state.rawValue))")
                    task.run = run
                }
            } catch {
                // The database is down: the reconciler waits (logged where the database changes).
            }
        case .webhook:
            receive(&task, who)
        }
        tasks[index] = task
    }

    private func finish(_ task: inout Task, _ outcome: PaymentService.Outcome) {
        task.run = nil
        if let report = task.report {
            task.report = nil
            if outcome.heldElsewhere {
                requeue(report.delivery, after: 2, "another worker took \(short(outcome.attemptID ?? "-")) over")
            } else {
                applied(report.delivery, report.order, by: task.service)
            }
        }
        guard case .request(let number) = task.job else { return }
        task.begun = true
        customers[number].inFlight -= 1
        customers[number].answers.append(outcome.response)
        if outcome.response.status == 202, let code = Self.claimCode(in: outcome.response.body) {
            if let known = customers[number].code, known != code {
                midRunViolations.append("customer \(number) was shown two claim codes")
            }
            customers[number].code = code
        }
        if [200, 202, 402, 410, 429].contains(outcome.response.status) {
            customers[number].done = true
        } else if ["router_no_disponible", "perfil_no_disponible", "pagos_no_configurados", "pago_reembolsado"].contains(
            outcome.response.codigo)
        {
            customers[number].done = true
        }
    }

    /// Drops finished request tasks (reconcilers stay).
    private func retire() {
        tasks.removeAll { task in
            if case .request = task.job { return task.begun && task.run == nil }
            return false
        }
    }

    private func changeWeather() {
        switch random.below(4) {
        case 0:
            ledger.down.toggle()
            log("database \(ledger.down ? "down" : "back")")
        case 1:
            routerDown.toggle()
            log("router \(routerDown ? "unreachable" : "back")")
        default:
            faultRate = [0, 0.05, 0.15, 0.3][random.below(4)]
            log("fault rate \(faultRate)")
        }
    }

    private func crashOrRestart() {
        let instance = random.below(options.instances)
        if alive[instance] {
            guard alive.filter({ $0 }).count > 1 || random.chance(0.3) else { return }
            alive[instance] = false
            let lost = tasks.filter { $0.instance == instance && $0.run != nil }.count
            // Its requests die with it: their customers got no answer and will try again.
            for task in tasks where task.instance == instance {
                if case .request(let number) = task.job, !task.begun || task.run != nil { customers[number].inFlight -= 1 }
                // An event recorded but not applied stays pending: another worker applies it.
                if let report = task.report { requeue(report.delivery, after: 1, "its worker crashed") }
            }
            tasks.removeAll { $0.instance == instance }
            log("instance \(instance) crashes (\(lost) runs in flight)")
        } else {
            alive[instance] = true
            generations[instance] += 1
            startReconcilers(instance)
            log("instance \(instance) restarts")
        }
    }

    private func completeChallenges() {
        for customer in customers where customer.completesChallengeLate {
            for order in gateway.orders.values where order.status == .pendingPayment {
                if ledger.rows[order.attemptID ?? ""]?.attempt.idempotencyKey == key(of: customer) {
                    gateway.completeChallenge(orderID: order.id)
                    log("customer \(customer.number) completes 3-D Secure on \(order.id)")
                }
            }
        }
    }

    // MARK: After the request

    /// The merchant and the banks act on an order at Conekta.
    private func dashboard() {
        let orders = gateway.orderOrder.compactMap { gateway.orders[$0] }
        func pick(_ candidates: [GatewayOrder]) -> GatewayOrder? {
            candidates.isEmpty ? nil : candidates[random.below(candidates.count)]
        }
        let kept = orders.filter { $0.isPaid || $0.status == .partiallyRefunded }
        switch random.below(4) {
        case 0:
            guard let order = pick(kept) else { return }
            gateway.refundInDashboard(orderID: order.id, cents: order.refundableCents)
            log("dashboard refunds \(order.id)")
        case 1:
            guard let order = pick(kept.filter(\.isPaid)) else { return }
            partlyRefundedInDashboard.insert(order.id)
            gateway.refundInDashboard(orderID: order.id, cents: 500)
            log("dashboard refunds 5.00 of \(order.id)")
        case 2:
            guard let order = pick(kept) else { return }
            gateway.chargeBack(orderID: order.id)
            log("card holder charges back \(order.id)")
        default:
            guard let order = pick(orders.filter { $0.status == .canceled && gateway.challenged.contains($0.id) }) else { return }
            gateway.payLate(orderID: order.id)
            log("3-D Secure of \(order.id) authorised after its cancel: paid late")
        }
    }

    // MARK: Pay later

    /// A pay-later customer pays their order at the store or by transfer (now and then into a
    /// reference that is dead already).
    private func payAtTheStore() {
        let payers = Set(customers.filter { $0.method.isPayLater && $0.pays }.map { "cliente\($0.number)@example.com" })
        let orders = gateway.orderOrder.compactMap { gateway.orders[$0] }.filter { order in
            guard order.payLater != nil, let attempt = ledger.rows[order.attemptID ?? ""]?.attempt else { return false }
            return payers.contains(attempt.customerEmail)
        }
        let dead = random.chance(0.1)
        let candidates = orders.filter { dead ? $0.status == .expired || $0.status == .canceled : $0.status == .pendingPayment }
        guard !candidates.isEmpty else { return }
        let order = candidates[random.below(candidates.count)]
        losesNextPayment = !dead && random.chance(0.3)
        if gateway.payLater(orderID: order.id, dead: dead) {
            log("\(order.id) is paid \(dead ? "into a dead reference" : "at the store")")
        }
        losesNextPayment = false
    }

    /// A pay-later customer redeems their code (before or after paying) on a live instance, and
    /// the answer is checked against where the attempt stands.
    private func redeemSomeCode() {
        let holders = customers.indices.filter { customers[$0].code != nil }
        guard !holders.isEmpty, let instance = liveInstance() else { return }
        redeem(holders[random.below(holders.count)], on: instance, final: false)
    }

    private func redeem(_ number: Int, on instance: Int, final: Bool) {
        guard let code = customers[number].code else { return }
        let service = service(instance, nextWorker())
        let grant = AccessGrant(keyID: "key_1", company: company, router: hotspot)
        let redemption: PaymentService.Redemption
        do {
            redemption = try service.redeem(PaymentService.Claim(code: code), grant: grant, remoteAddress: "10.5.50.\(number)")
        } catch {
            return log("customer \(number)'s claim refused: \(error)")
        }
        let attempt = ledger.order.compactMap { ledger.rows[$0]?.attempt }.first { $0.customerEmail == "cliente\(number)@example.com" }
        let state = attempt?.state
        let kind: String
        switch redemption {
        case .delivered(let receipt, let delivered):
            kind = "delivered"
            let user = router.users.values.first { $0.comment == delivered.routerComment && !$0.disabled }
            let body = String(decoding: receipt.body, as: UTF8.self)
            if state != .delivered || user == nil || !body.contains("\"usuario\":\"\(delivered.credentials.username)\"")
                || !gateway.everPaid.contains(delivered.orderID ?? "")
            {
                midRunViolations.append("§12 customer \(number)'s claim was answered 200 while \(state?.rawValue ?? "-")")
            }
        case .pending(let pending):
            kind = "pending"
            if final || pending.state.isFinal {
                midRunViolations.append("§12 customer \(number)'s claim is still pending (\(pending.state.rawValue)) at the end")
            }
        case .ended(let end, _):
            kind = "\(end)"
            let expected: [PaymentAttempt.State] =
                switch end {
                case .expired: [.expired]
                case .refunded: [.refunding, .refunded]
                case .revoked: [.revoking, .revoked]
                }
            if let state, !expected.contains(state) {
                midRunViolations.append("§12 customer \(number)'s claim ended \(end) while \(state.rawValue)")
            }
        case .unknownCode, .tooManyGuesses:
            kind = "\(redemption)"
            midRunViolations.append("§12 customer \(number)'s own code was answered \(redemption)")
        }
        claimsAnswered[kind, default: 0] += 1
        log("customer \(number) redeems their code: \(kind)")
    }

    /// The claim code a 202 shows (`"codigo_canje":"XXXXX-XXXXX"`).
    static func claimCode(in body: [UInt8]) -> String? {
        let text = String(decoding: body, as: UTF8.self)
        guard let range = text.firstRange(of: #""codigo_canje":""#) else { return nil }
        return String(text[range.upperBound...].prefix { $0 != "\"" })
    }

    /// A customer's device logs in with the credentials it was given (a delivered access), or a
    /// session ends by itself.
    private func logInOrOut() {
        if random.chance(0.25), !router.sessions.isEmpty {
            let id = router.sessions.keys.sorted()[random.below(router.sessions.count)]
            router.endSession(id: id)
            log("session \(id) ends")
            return
        }
        let delivered = ledger.order.compactMap { ledger.rows[$0]?.attempt }.filter { $0.state == .delivered && $0.routerUserID != nil }
        guard !delivered.isEmpty else { return }
        let attempt = delivered[random.below(delivered.count)]
        if router.logIn(userID: attempt.routerUserID!) { log("\(short(attempt.id))'s customer logs in") }
    }

    /// Conekta sends an event for an order that changed: after a delay, sometimes twice, in any
    /// order. The `order.paid` of a cash or SPEI payment is sometimes lost on its way: the
    /// product's poll must find the money (not for a payment into a dead reference: no poll
    /// looks at an expired attempt, and Conekta retries a delivery until it is answered).
    private func send(_ order: GatewayOrder) {
        if order.payLater != nil, order.status == .paid, losesNextPayment {
            losesNextPayment = false
            lostWebhooks += 1
            log("the order.paid of \(order.id) is lost")
            return
        }
        events += 1
        let type = "order.\(order.status.name)"
        let delivery = Delivery(eventID: "evt_\(events)", type: type, orderID: order.id, dueAt: clock.now + delay())
        deliveries.append(delivery)
        if random.chance(0.2) {
            var again = delivery
            again.dueAt = clock.now + delay()
            deliveries.append(again)
        }
    }

    private func delay() -> Int64 { Int64(random.below(90_000)) * 1_000 }

    private func requeue(_ delivery: Delivery, after seconds: Int, _ why: String) {
        var later = delivery
        later.dueAt = clock.now + Int64(seconds) * 1_000_000 + delay() / 10
        deliveries.append(later)
        log("\(delivery.eventID) (\(delivery.type) \(delivery.orderID)) pending: \(why)")
    }

    /// A webhook worker takes one event that has arrived (any of them: they come out of order),
    /// drops it when it was applied already, reads its order again and applies the report.
    private func receive(_ task: inout Task, _ who: String) {
        let arrived = deliveries.indices.filter { deliveries[$0].dueAt <= clock.now }
        guard !arrived.isEmpty else { return }
        let delivery = deliveries.remove(at: arrived[random.below(arrived.count)])
        guard !appliedEvents.contains(delivery.eventID) else {
            log("\(who) \(delivery.eventID) delivered again: applied already, 200")
            return
        }
        guard !ledger.down else { return requeue(delivery, after: 5, "database down: 503, Conekta delivers again") }
        let order: GatewayOrder?
        do {
            order = try gateway.order(id: delivery.orderID, using: GatewayKey(privateKey: "key_sim"))
        } catch {
            return requeue(delivery, after: 2, "the order could not be read: \(error)")
        }
        guard let order, let attemptID = order.attemptID, ledger.rows[attemptID] != nil else {
            appliedEvents.insert(delivery.eventID)
            log("\(who) \(delivery.eventID) ignored: not our order")
            return
        }
        do {
            switch try task.service.beginOrderReport(order, attemptID: attemptID) {
            case nil:
                log("\(who) \(delivery.eventID) (\(delivery.type)) for \(short(attemptID)): nothing to do")
                applied(delivery, order, by: task.service)
            case .answered?:
                requeue(delivery, after: 2, "\(short(attemptID)) is held by another worker")
            case .running(let run)?:
                log("\(who) \(delivery.eventID) (\(delivery.type)) applies \(order.status.name) to \(short(attemptID)): \(run.next)")
                task.run = run
                task.report = (delivery, order)
            }
        } catch {
            requeue(delivery, after: 2, "database down")
        }
    }

    /// An event's report was applied: recorded as applied (unless the database went down, when it
    /// stays pending), and I7 checked by applying the same report again at once.
    private func applied(_ delivery: Delivery, _ order: GatewayOrder, by service: PaymentService) {
        guard !ledger.down, let attemptID = order.attemptID else {
            return requeue(delivery, after: 2, "database down: not marked applied")
        }
        appliedEvents.insert(delivery.eventID)
        reportsApplied += 1
        let before = snapshot(attemptID, order.id)
        let again = try? service.applyOrderReport(order, attemptID: attemptID)
        if let again, !again.heldElsewhere {
            midRunViolations.append(
                "I7 \(delivery.eventID) (\(order.status.name)) applied again to \(short(attemptID)) ran to \(again.state?.rawValue ?? "-")")
        }
        if snapshot(attemptID, order.id) != before {
            midRunViolations.append("I7 \(delivery.eventID) (\(order.status.name)) applied again changed \(short(attemptID))")
        }
    }

    /// What a report may change: the attempt's record and answer, its users and their sessions on
    /// the router, its order at Conekta.
    private struct Snapshot: Equatable {
        var attempt: PaymentAttempt?
        var response: StoredResponse?
        var users: [HotspotUser]
        var sessions: [ActiveSession]
        var order: GatewayOrder?
    }

    private func snapshot(_ attemptID: String, _ orderID: String) -> Snapshot {
        let attempt = ledger.rows[attemptID]?.attempt
        let name = attempt?.credentials.username
        return Snapshot(
            attempt: attempt, response: ledger.rows[attemptID]?.response,
            users: router.users.values.filter { $0.comment == "hotspot-pay:\(attemptID)" }.sorted { $0.id < $1.id },
            sessions: router.sessions.values.filter { $0.user == name }.sorted { $0.id < $1.id }, order: gateway.orders[orderID])
    }

    // MARK: Settling

    /// No more faults: the reconcilers finish everything, and every customer without a final
    /// answer asks once more.
    private func settle() {
        ledger.down = false
        routerDown = false
        faultRate = 0
        for instance in alive.indices where !alive[instance] {
            alive[instance] = true
            generations[instance] += 1
            startReconcilers(instance)
        }
        // Requests still in flight finish first.
        for index in tasks.indices { while tasks[index].run != nil { step(index) } }
        tasks.removeAll { if case .request = $0.job { return true } else { return false } }
        for customer in customers.indices { customers[customer].inFlight = 0 }
        drain()
        for number in customers.indices where !customers[number].done {
            guard customers[number].submissions > 0, let instance = liveInstance() else { continue }
            tasks.append(
                Task(
                    job: .request(customer: number), instance: instance, generation: generations[instance],
                    service: service(instance, nextWorker())))
            let index = tasks.count - 1
            customers[number].inFlight += 1
            step(index)
            while tasks[index].run != nil { step(index) }
            retire()
        }
        // A pay-later purchase asked for only now waits for its money: it too must end.
        drain()
        // Every pay-later customer redeems their code once more: it answers as its attempt ended.
        for number in customers.indices where customers[number].code != nil {
            guard let instance = liveInstance() else { break }
            redeem(number, on: instance, final: true)
        }
    }

    /// Jumps the clock from one due time to the next, stepping every task each time, until every
    /// attempt is final and every event delivered.
    private func drain() {
        var rounds = 0
        while ledger.rows.values.contains(where: { !$0.finished }) || !deliveries.isEmpty, rounds < 400 {
            rounds += 1
            steps += 1
            let wake = [ledger.nextWake(), deliveries.map(\.dueAt).min()].compactMap { $0 }.min()
            if let wake, wake > clock.now { clock.now = wake + 1 }
            gateway.expireDue()
            for index in tasks.indices {
                step(index)
                while tasks[index].run != nil { step(index) }
            }
        }
    }

    // MARK: The invariants

    private func check() -> [String] {
        var violations = midRunViolations
        let attempts = ledger.order.compactMap { ledger.rows[$0]?.attempt }
        for attempt in attempts {
            let users = router.users.values.filter { $0.comment == attempt.routerComment }
            let orders = gateway.orders.values.filter { $0.attemptID == attempt.id }
            // I4: every attempt final, with its reason.
            if !attempt.state.isFinal { violations.append("I4 \(short(attempt.id)) not final: \(attempt.state.rawValue)") }
            if attempt.reason == nil { violations.append("I4 \(short(attempt.id)) has no reason") }
            // I1: an enabled user only for a delivered attempt whose order is paid (a refund in
            // part, made in the dashboard, keeps the access: CONTRACT §10).
            for user in users where !user.disabled {
                let paid = orders.contains {
                    $0.id == attempt.orderID && ($0.isPaid || partlyRefundedInDashboard.contains($0.id) && $0.status == .partiallyRefunded)
                }
                if attempt.state != .delivered || !paid {
                    violations.append("I1 \(short(attempt.id)) has an enabled user but is \(attempt.state.rawValue), order paid: \(paid)")
                }
            }
            // A revoked access keeps its user, disabled (the check above): removing it is §11's.
            if attempt.state.isFinal, attempt.state != .delivered, attempt.state != .revoked, !users.isEmpty {
                violations.append("I1 \(short(attempt.id)) is \(attempt.state.rawValue) but its user is still on the router")
            }
            // I6: an order refunded or charged back leaves no access: no enabled user (above, as
            // it is not paid), no session of its user, and a delivered attempt ends revoked.
            for order in orders where order.status == .refunded || order.status == .chargedBack {
                let name = attempt.credentials.username
                if router.sessions.values.contains(where: { $0.user == name }) {
                    violations.append("I6 order \(order.id) is \(order.status.name) but \(short(attempt.id))'s user still has a session")
                }
                let wasDelivered = ledger.events.contains { $0.attempt == attempt.id && $0.to == .delivered }
                if wasDelivered, attempt.state != .revoked {
                    violations.append(
                        "I6 order \(order.id) is \(order.status.name) after delivery but \(short(attempt.id)) is \(attempt.state.rawValue)")
                }
            }
            if attempt.state == .delivered, users.filter({ !$0.disabled }).count != 1 {
                violations.append("I2 \(short(attempt.id)) is delivered without an enabled user")
            }
            // §12: every paid pay-later order ends delivered or refunded (revoked: delivered, then
            // refunded in the dashboard; or the merchant gave the money back first).
            if attempt.method.isPayLater, let orderID = attempt.orderID, gateway.everPaid.contains(orderID),
                ![.delivered, .refunded, .revoked].contains(attempt.state), gateway.orders[orderID]?.status != .refunded
            {
                violations.append("§12 pay-later order \(orderID) was paid but \(short(attempt.id)) is \(attempt.state.rawValue)")
            }
            if attempt.method.isPayLater, attempt.state == .expired, let orderID = attempt.orderID,
                let order = gateway.orders[orderID], order.status == .pendingPayment
            {
                violations.append("§12 \(short(attempt.id)) expired but its order \(orderID) still takes money")
            }
            // I3: at most one order and one user per idempotency key (attempts are unique per key).
            if orders.count > 1 { violations.append("I3 \(short(attempt.id)) has \(orders.count) orders") }
            if users.count > 1 { violations.append("I3 \(short(attempt.id)) has \(users.count) users") }
            // I2: money is never kept without access, nor left payable for a final attempt.
            for order in orders {
                switch order.status {
                case .paid where attempt.state != .delivered:
                    violations.append("I2 order \(order.id) is paid but \(short(attempt.id)) is \(attempt.state.rawValue)")
                case .paid where attempt.orderID != order.id:
                    violations.append("I2 order \(order.id) is paid but \(short(attempt.id)) delivered \(attempt.orderID ?? "-")")
                case .pendingPayment where attempt.state.isFinal:
                    violations.append("I2 order \(order.id) left payable; \(short(attempt.id)) is \(attempt.state.rawValue)")
                case .partiallyRefunded where attempt.state != .delivered || !partlyRefundedInDashboard.contains(order.id):
                    violations.append("I2 order \(order.id) only partly refunded; \(short(attempt.id)) is \(attempt.state.rawValue)")
                default:
                    break
                }
            }
        }
        // Every customer was told one final answer, the same each time.
        for customer in customers where customer.submissions > 0 {
            let final = customer.answers.filter { !["pago_en_verificacion", "activacion_pendiente", "en_proceso"].contains($0.codigo) }
            if final.isEmpty {
                violations.append("customer \(customer.number) never got a final answer: \(customer.answers.map(\.codigo))")
            } else if Set(final.map(\.body)).count > 1 {
                violations.append("customer \(customer.number) got different final answers: \(final.map(\.codigo))")
            }
            if let attempt = attempts.first(where: { $0.idempotencyKey == key(of: customer) }), let answer = final.first {
                let state = attempt.state
                let told = answer.codigo
                // A delivered access may be revoked later; its customer was told `pagado`. A
                // pay-later purchase is answered `pago_pendiente` (its access comes by its code).
                let wrong =
                    customer.method.isPayLater
                    ? told == "pagado" && state != .delivered && state != .revoked
                        || told == "pago_pendiente" && [.declined, .failed].contains(state)
                    : told == "pagado" && state != .delivered && state != .revoked || state == .delivered && told != "pagado"
                if wrong { violations.append("customer \(customer.number) was told \(told) but the attempt is \(state.rawValue)") }
            }
        }
        return violations
    }

    // MARK: Helpers

    private func startReconcilers(_ instance: Int) {
        for index in 0..<options.reconcilersPerInstance {
            tasks.append(
                Task(job: .reconciler, instance: instance, generation: generations[instance], service: service(instance, "r\(index)")))
        }
        if options.afterTheRequest {
            tasks.append(Task(job: .webhook, instance: instance, generation: generations[instance], service: service(instance, "h")))
        }
    }

    private func service(_ instance: Int, _ thread: String) -> PaymentService {
        let router = self.router
        return PaymentService(
            ledger: ledger, gateway: gateway, rendering: PaymentPresenter(), clock: clock, settings: settings,
            owner: "sim:\(instance)\(generations[instance])/\(thread)", fingerprint: { "fp(\($0))" },
            routerAccess: { (_: Int64) throws(StoreFailure) in .init(directory: router, quick: router, hotspotServer: "hotspot1") },
            gatewayKey: { (_: Int64) throws(StoreFailure) in GatewayKey(privateKey: "key_sim") },
            verifiedProfiles: verifiedProfiles, random: SimulatedRandom(seed: random.next()))
    }

    /// A worker's name in leases: no two runs in flight share one, as no two requests share a
    /// server's thread at once.
    private func nextWorker() -> String {
        workers += 1
        return "w\(workers)"
    }

    private func fault(_ operation: String) -> SimulatedFault? {
        if routerDown, !operation.hasPrefix("orders.") { return .before }
        guard faultRate > 0, random.chance(faultRate) else { return nil }
        let fault: SimulatedFault = random.chance(0.5) ? .before : .afterApplying
        log("fault: \(operation) \(fault)")
        return fault
    }

    private func liveInstance() -> Int? {
        let live = alive.indices.filter { alive[$0] }
        return live.isEmpty ? nil : live[random.below(live.count)]
    }

    private func key(of customer: Customer) -> String {
        customer.header.map { "h:" + $0 } ?? "t:fp(1:\(customer.token))"
    }

    private func short(_ id: String) -> String { String(id.prefix(8)) }

    private func log(_ line: String) {
        trace.append("t+\((clock.now - 1_800_000_000_000_000) / 1_000) ms  \(line)")
        if trace.count > 3_000 { trace.removeFirst(trace.count - 2_000) }
    }
}
