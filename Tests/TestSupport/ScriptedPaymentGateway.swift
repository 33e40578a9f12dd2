import Domain

/// A gateway that answers each charge from a script and remembers orders.
public final class ScriptedPaymentGateway: PaymentGateway {
    public var outcomes: [ChargeOutcome] = []
    public var orders: [String: GatewayOrder] = [:]
    public var charges = 0

    public init() {}

    public func charge(_ charge: ChargeRequest, using key: GatewayKey) -> ChargeOutcome {
        charges += 1
        let outcome = outcomes.isEmpty ? .unknown(reason: "no script") : outcomes.removeFirst()
        if case .paid(let order) = outcome {
            orders[order.orderID] = GatewayOrder(
                id: order.orderID, status: .paid, amount: order.amount, attemptID: charge.attemptID)
        }
        return outcome
    }

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
        orders[orderID]?.status = .canceled
        guard let order = orders[orderID] else { throw .notFound }
        return order
    }
}
