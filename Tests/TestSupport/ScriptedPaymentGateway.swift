import Domain

/// A gateway that answers each charge from a script and remembers orders.
public final class ScriptedPaymentGateway: PaymentGateway {
    public var outcomes: [ChargeOutcome] = []
    public var orders: [String: GatewayOrder] = [:]
    public var charges = 0

    public init() {}

    /// The charges as sent.
    public var requests: [ChargeRequest] = []

    public func charge(_ charge: ChargeRequest, using key: GatewayKey) -> ChargeOutcome {
        charges += 1
        requests.append(charge)
        let outcome = outcomes.isEmpty ? .unknown(reason: "no script") : outcomes.removeFirst()
        switch outcome {
        case .paid(let order):
            orders[order.orderID] = GatewayOrder(
                id: order.orderID, status: .paid, amount: order.amount, attemptID: charge.attemptID)
        case .awaitingPayment(let id, let payLater):
            orders[id] = GatewayOrder(
                id: id, status: .pendingPayment, amount: charge.amount, attemptID: charge.attemptID, payLater: payLater)
        default:
            break
        }
        return outcome
    }

    /// The cash or SPEI order's customer paid it (or it expired: any status).
    public func settle(_ orderID: String, _ status: GatewayOrder.Status) {
        orders[orderID]?.status = status
    }

    /// Cancels made (order ids).
    public var cancels: [String] = []

    public func order(id: String, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder? { orders[id] }

    /// The windows `findOrder` was asked about; `unprovable` makes it throw `absenceUnproven`
    /// when no order has the attempt.
    public var windows: [ClosedRange<Int64>] = []
    public var unprovable = false

    public func findOrder(
        attemptID: String, customerEmail: String, createdAfter: Int64, createdBefore: Int64?, using key: GatewayKey
    ) throws(GatewayFailure)
        -> GatewayOrder?
    {
        windows.append(createdAfter...(createdBefore ?? .max))
        let found = orders.values.first { $0.attemptID == attemptID }
        if found == nil, unprovable { throw .absenceUnproven("listing_too_long") }
        return found
    }

    public func refund(orderID: String, amountCents: Int64, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder {
        orders[orderID]!.status = .refunded
        orders[orderID]!.amountRefundedCents = amountCents
        return orders[orderID]!
    }

    public func cancel(orderID: String, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder {
        cancels.append(orderID)
        orders[orderID]?.status = .canceled
        guard let order = orders[orderID] else { throw .notFound }
        return order
    }
}
