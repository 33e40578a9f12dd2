/// A company (tenant): it owns routers and products and has its own Conekta account.
public struct Company: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var contactEmail: String?
    /// Sent to Conekta when the customer gives no phone (Conekta requires one).
    public var contactPhone: String?
    public var conektaPublicKey: String?
    public var active: Bool
    public var credentialPolicy: CredentialPolicy
    /// Cash and SPEI payments the company offers, and for how long their references are payable.
    public var payLater: PayLaterSettings

    public init(
        id: Int64, name: String, contactEmail: String? = nil, contactPhone: String? = nil,
        conektaPublicKey: String? = nil, active: Bool = true, credentialPolicy: CredentialPolicy = .standard,
        payLater: PayLaterSettings = .off
    ) {
        self.payLater = payLater
        self.id = id
        self.name = name
        self.contactEmail = contactEmail
        self.contactPhone = contactPhone
        self.conektaPublicKey = conektaPublicKey
        self.active = active
        self.credentialPolicy = credentialPolicy
    }
}

/// A MikroTik router of a company, as the portal sees it.
public struct Router: Sendable, Equatable {
    public var id: Int64
    public var companyID: Int64
    public var name: String
    public var location: String?
    public var active: Bool

    public init(id: Int64, companyID: Int64, name: String, location: String? = nil, active: Bool = true) {
        self.id = id
        self.companyID = companyID
        self.name = name
        self.location = location
        self.active = active
    }
}

/// How to reach a router's REST API. The password is a secret: `description` hides it.
public struct RouterEndpoint: Sendable, Equatable, CustomStringConvertible {
    public enum Trust: Sendable, Equatable {
        case caFile(String)
        case pinnedPublicKey(String)
        /// Verification off; only with the operator's explicit insecure flag.
        case insecure
    }

    public var routerID: Int64
    /// `https://10.0.0.1` (RouterOS serves REST under `/rest`).
    public var baseURL: String
    public var user: String
    public var password: String
    public var trust: Trust
    /// The hotspot server new users belong to (`all` for every server).
    public var hotspotServer: String

    public init(routerID: Int64, baseURL: String, user: String, password: String, trust: Trust, hotspotServer: String) {
        self.routerID = routerID
        self.baseURL = baseURL
        self.user = user
        self.password = password
        self.trust = trust
        self.hotspotServer = hotspotServer
    }

    public var description: String {
        "RouterEndpoint(router: \(routerID), \(baseURL), user: \(user), password: <redacted>)"
    }
}

/// Something sold on a router: a hotspot user profile at a price.
public struct Product: Sendable, Equatable {
    public var id: Int64
    public var companyID: Int64
    public var routerID: Int64
    public var name: String
    public var description: String?
    public var price: Money
    /// The exact RouterOS user profile name.
    public var profileName: String
    /// RouterOS time interval (`1h`, `1d`), or nil for no uptime limit.
    public var limitUptime: String?
    public var limitBytesTotal: Int64?
    /// Wall-clock validity (`vigencia`), or nil for none: the access then lasts as long as its
    /// RouterOS limits allow.
    public var validity: AccessValidity?
    public var details: [String]
    public var imageURL: String?
    public var featured: Bool
    public var displayOrder: Int
    public var active: Bool

    public init(
        id: Int64, companyID: Int64, routerID: Int64, name: String, description: String? = nil, price: Money,
        profileName: String, limitUptime: String? = nil, limitBytesTotal: Int64? = nil, validity: AccessValidity? = nil,
        details: [String] = [], imageURL: String? = nil, featured: Bool = false, displayOrder: Int = 0, active: Bool = true
    ) {
        self.id = id
        self.companyID = companyID
        self.routerID = routerID
        self.name = name
        self.description = description
        self.price = price
        self.profileName = profileName
        self.limitUptime = limitUptime
        self.limitBytesTotal = limitBytesTotal
        self.validity = validity
        self.details = details
        self.imageURL = imageURL
        self.featured = featured
        self.displayOrder = displayOrder
        self.active = active
    }
}

/// Lengths of generated hotspot credentials (CONTRACT §5), per company.
public struct CredentialPolicy: Sendable, Equatable {
    public var usernameLength: Int
    public var passwordLength: Int
    public var pinLength: Int

    public init(usernameLength: Int, passwordLength: Int, pinLength: Int) {
        self.usernameLength = usernameLength
        self.passwordLength = passwordLength
        self.pinLength = pinLength
    }

    /// 6 characters of `HotspotCredentials.usernameAlphabet` (capitals and digits without `0 O 1 I L`)
    /// and 4 digits; 6-digit PINs (the seed's shapes, docs/seed-api.md).
    public static let standard = CredentialPolicy(usernameLength: 6, passwordLength: 4, pinLength: 6)
}
