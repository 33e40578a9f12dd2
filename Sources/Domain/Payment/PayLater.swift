/// How a customer pays (CONTRACT §12): by card now, or later, in cash at an OXXO store or by a
/// SPEI bank transfer. The raw values are what the ledger stores; the API names them for people.
public enum PaymentMethod: String, Sendable, CaseIterable {
    case card
    case oxxo
    case spei

    /// Paid after the request: the order waits for the customer's money, and the router user is
    /// created only once it arrives.
    public var isPayLater: Bool { self != .card }

    /// The methods a company may offer besides cards.
    public static let payLater: [PaymentMethod] = [.oxxo, .spei]
}

/// A company's pay-later offer. Off until the operator turns it on: the company's Conekta account
/// must accept cash and SPEI first.
public struct PayLaterSettings: Sendable, Equatable {
    /// The pay-later methods the company offers (a subset of `PaymentMethod.payLater`).
    public var methods: Set<PaymentMethod>
    /// How long a reference or CLABE stays payable, from the request.
    public var expirySeconds: Int

    public init(methods: Set<PaymentMethod>, expirySeconds: Int = Self.defaultExpirySeconds) {
        self.methods = methods.filter(\.isPayLater)
        self.expirySeconds = expirySeconds
    }

    /// 4 hours: long enough to reach a store or a banking app, short enough that an unpaid
    /// reference does not linger.
    public static let defaultExpirySeconds = 14_400
    /// Hours, not days (CONTRACT §12): from 15 minutes to 72 hours.
    public static let allowedExpirySeconds: ClosedRange<Int> = 900...259_200
    public static let off = PayLaterSettings(methods: [])
}

/// How to pay a pay-later order, as the gateway issued it: an OXXO reference (with its barcode)
/// or a CLABE to transfer to. Neither is a secret: the customer shows them to a cashier or types
/// them into a banking app.
public struct PaymentInstructions: Sendable, Equatable {
    /// The number an OXXO cashier types (cash).
    public var reference: String?
    public var barcodeURL: String?
    /// The 18-digit account a SPEI transfer goes to.
    public var clabe: String?
    public var bank: String?

    public init(reference: String? = nil, barcodeURL: String? = nil, clabe: String? = nil, bank: String? = nil) {
        self.reference = reference
        self.barcodeURL = barcodeURL
        self.clabe = clabe
        self.bank = bank
    }

    /// Whether a customer can pay with these: a reference for cash, a CLABE for a transfer.
    public func isUsable(for method: PaymentMethod) -> Bool {
        switch method {
        case .oxxo: reference?.isEmpty == false
        case .spei: clabe?.isEmpty == false
        case .card: false
        }
    }
}

/// The cash or SPEI charge of an order, as the gateway reports it.
public struct PayLaterCharge: Sendable, Equatable {
    public var method: PaymentMethod
    public var instructions: PaymentInstructions
    /// Unix seconds after which the reference or CLABE no longer takes money; nil when not given.
    public var expiresAt: Int64?

    public init(method: PaymentMethod, instructions: PaymentInstructions, expiresAt: Int64?) {
        self.method = method
        self.instructions = instructions
        self.expiresAt = expiresAt
    }
}

/// The code a pay-later customer redeems for their credentials once the money arrived
/// (`POST /api/v1/payments/canjear`). A secret: whoever holds it gets the access, so it is drawn
/// from a CSPRNG, stored only as a keyed hash, never logged, and `description` hides it.
///
/// Ten symbols of Crockford's base32 (`0-9` and `A-Z` without `I L O U`), 50 bits, shown as
/// `XXXXX-XXXXX`. Typed input is forgiving as Crockford's decoding is: case, spaces and dashes do
/// not matter, and the letters people confuse with digits read as those digits (`O` → `0`,
/// `I` and `L` → `1`).
public struct ClaimCode: Sendable, Equatable, CustomStringConvertible {
    public static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    public static let length = 10

    /// The ten symbols, normalised: what is hashed and compared.
    public let symbols: String

    private init(symbols: String) { self.symbols = symbols }

    /// A new code from `random` (a CSPRNG; seeded only in simulations).
    public static func generate<R: RandomNumberGenerator>(using random: inout R) -> ClaimCode {
        ClaimCode(symbols: String(RandomBytes.indices(length, below: alphabet.count, using: &random).map { alphabet[$0] }))
    }

    /// A code as a customer typed it; nil when it cannot be one (wrong length or symbols).
    public init?(typed text: String) {
        var symbols = ""
        for character in text.uppercased() {
            switch character {
            case " ", "-", "\t": continue
            case "O": symbols.append("0")
            case "I", "L": symbols.append("1")
            default:
                guard Self.alphabet.contains(character) else { return nil }
                symbols.append(character)
            }
            if symbols.count > Self.length { return nil }
        }
        guard symbols.count == Self.length else { return nil }
        self.symbols = symbols
    }

    /// `XXXXX-XXXXX`, as the customer reads it.
    public var display: String { "\(symbols.prefix(5))-\(symbols.suffix(5))" }

    public var description: String { "ClaimCode(<redacted>)" }
}
