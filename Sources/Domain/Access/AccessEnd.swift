/// Why an access ended (CONTRACT §11), as `payment_attempts.access_end_reason` stores it.
public enum AccessEndReason: String, Sendable, CaseIterable {
    /// Its wall-clock validity (`vigencia`) elapsed.
    case validity
    /// Its `limit-uptime` is used up (RouterOS keeps such a user, refusing its logins).
    case uptime
    /// Its `limit-bytes-total` is used up.
    case bytes
    /// Its order was refunded or charged back (CONTRACT §10).
    case revoked
    /// An operator ended it (`hotspotctl users end`).
    case byOperator = "operator"
    /// Its user was gone from the router already when the access was over.
    case missing
}

/// A sold access as the sweeper sees it: what its attempt sold, where the saga stands, and what
/// is known of its use. No credentials but the user's name.
public struct SoldAccess: Sendable, Equatable {
    public var attemptID: String
    public var routerID: Int64
    public var state: PaymentAttempt.State
    /// The hotspot user's name (a PIN user's PIN).
    public var username: String
    public var productID: Int64
    public var productName: String
    /// What was sold (snapshots of the product at the sale).
    public var limitUptime: String?
    public var limitBytesTotal: Int64?
    public var validity: AccessValidity?
    /// Unix seconds: when the attempt was delivered (nil unless it is `delivered`).
    public var deliveredAt: Int64?
    public var firstLoginAt: Int64?
    public var endedAt: Int64?
    public var endReason: AccessEndReason?

    public init(
        attemptID: String, routerID: Int64, state: PaymentAttempt.State, username: String, productID: Int64 = 0,
        productName: String = "", limitUptime: String? = nil, limitBytesTotal: Int64? = nil, validity: AccessValidity? = nil,
        deliveredAt: Int64? = nil, firstLoginAt: Int64? = nil, endedAt: Int64? = nil, endReason: AccessEndReason? = nil
    ) {
        self.attemptID = attemptID
        self.routerID = routerID
        self.state = state
        self.username = username
        self.productID = productID
        self.productName = productName
        self.limitUptime = limitUptime
        self.limitBytesTotal = limitBytesTotal
        self.validity = validity
        self.deliveredAt = deliveredAt
        self.firstLoginAt = firstLoginAt
        self.endedAt = endedAt
        self.endReason = endReason
    }

    /// When the validity runs out (unix seconds), once it has started; nil without validity.
    public var validityEndsAt: Int64? { validity?.endsAt(deliveredAt: deliveredAt, firstLoginAt: firstLoginAt) }
}

/// Where a sold user stands, as `hotspotctl users list` shows it.
public enum AccessState: String, Sendable, CaseIterable {
    /// Used, and not over.
    case active
    /// Never used.
    case unused
    /// Past its end (uptime, bytes, validity, or ended already) but still on the router.
    case over
    /// Its order was refunded or charged back: attempt `revoking` or `revoked`.
    case revoked
    /// Its attempt is still in the payment saga (the reconciler finishes it).
    case unfinished
    /// A `hotspot-pay:` user with no attempt of this router (another deployment, a hand-made copy).
    case unmatched
}

/// Whether a sold user's access is over, decided from its attempt and the router's counters alone
/// (no I/O). The order of the checks is the rule: a revoked attempt ends, an attempt still in the
/// saga is left to the saga, then the uptime and byte limits, then the validity.
public enum AccessEnd {
    /// What to do with one user.
    public struct Decision: Sendable, Equatable {
        /// End the access, and why; nil to keep it.
        public var end: AccessEndReason?
        /// Record this as the first login (unix seconds): the user was seen used, none is recorded.
        public var firstLoginAt: Int64?
        /// The attempt is the payment saga's: touch nothing.
        public var leftToSaga: Bool

        public init(end: AccessEndReason? = nil, firstLoginAt: Int64? = nil, leftToSaga: Bool = false) {
            self.end = end
            self.firstLoginAt = firstLoginAt
            self.leftToSaga = leftToSaga
        }

        public static let keep = Decision()
        public static let leaveToSaga = Decision(leftToSaga: true)
        public static func end(_ reason: AccessEndReason, firstLoginAt: Int64? = nil) -> Decision {
            Decision(end: reason, firstLoginAt: firstLoginAt)
        }
        public static func firstLogin(_ at: Int64) -> Decision { Decision(firstLoginAt: at) }
    }

    /// Decides one user of the router whose comment names `attempt`.
    /// - Parameters:
    ///   - usage: the user as the router counts it. Its own `limit-uptime` / `limit-bytes-total`
    ///     win over what was sold (an operator may have extended one on the router); without
    ///     them, the attempt's are used.
    ///   - hasSession: a device is logged in as the user now (so it is used, whatever its counters).
    ///   - sessionUptime: the longest of its sessions' uptimes, when known.
    ///   - now: unix seconds.
    public static func decide(
        attempt: SoldAccess, usage: HotspotUserUsage, hasSession: Bool, sessionUptime: Int64? = nil, now: Int64
    ) -> Decision {
        if attempt.state == .revoked { return .end(.revoked) }
        guard attempt.state == .delivered else { return .leaveToSaga }
        // Ended already (recorded, yet the user is back or was never removed): remove it again.
        if attempt.endedAt != nil { return .end(attempt.endReason ?? .validity) }

        let uptime = max(usage.uptimeSeconds ?? 0, 0)
        let observed = max(uptime, sessionUptime ?? 0)
        // Used: time or bytes counted, or a device logged in now. The latest the first login can
        // have been is now, less the time it has been used since.
        let used = observed > 0 || hasSession || (usage.bytesTotal ?? 0) > 0
        let seenFirstLogin = used ? now - observed : nil
        let newFirstLogin = attempt.firstLoginAt == nil ? seenFirstLogin : nil
        let firstLogin = attempt.firstLoginAt ?? seenFirstLogin

        let uptimeLimit = usage.limitUptimeSeconds ?? attempt.limitUptime.flatMap(RouterOSInterval.seconds)
        if let limit = uptimeLimit, limit > 0, uptime >= limit { return .end(.uptime, firstLoginAt: newFirstLogin) }
        let bytesLimit = usage.limitBytesTotal ?? attempt.limitBytesTotal
        if let limit = bytesLimit, limit > 0, let used = usage.bytesTotal, used >= limit {
            return .end(.bytes, firstLoginAt: newFirstLogin)
        }
        if let ends = attempt.validity?.endsAt(deliveredAt: attempt.deliveredAt, firstLoginAt: firstLogin), now >= ends {
            return .end(.validity, firstLoginAt: newFirstLogin)
        }
        return Decision(firstLoginAt: newFirstLogin)
    }

    /// Where a user stands for the operator, with the reason when it is over. `attempt` is nil for
    /// a user whose comment names no attempt of this router.
    public static func state(
        attempt: SoldAccess?, usage: HotspotUserUsage, hasSession: Bool, sessionUptime: Int64? = nil, now: Int64
    ) -> (state: AccessState, reason: AccessEndReason?) {
        guard let attempt, attempt.username == usage.name else { return (.unmatched, nil) }
        if attempt.state == .revoking || attempt.state == .revoked { return (.revoked, .revoked) }
        let decision = decide(attempt: attempt, usage: usage, hasSession: hasSession, sessionUptime: sessionUptime, now: now)
        if decision.leftToSaga { return (.unfinished, nil) }
        if let reason = decision.end { return (.over, reason) }
        let used = attempt.firstLoginAt != nil || decision.firstLoginAt != nil
        return (used ? .active : .unused, nil)
    }
}
