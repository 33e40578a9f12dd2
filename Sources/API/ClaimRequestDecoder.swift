import Domain

/// Reads a claim of a pay-later access (`POST /api/v1/payments/canjear`, CONTRACT §12) from a
/// JSON or form body, as the payment's fields are read: each under its English name or its
/// Spanish alias, unknown fields ignored, a field sent twice or under both names with different
/// values refused.
public enum ClaimRequestDecoder {
    /// (canonical, alias)
    static let names: [(String, String)] = [
        ("claim_code", "codigo_canje"), ("mac_address", "mac_cliente"), ("ip_address", "ip_cliente"),
        ("auto_connect", "conexion_automatica"),
    ]

    public static func decode(body: [UInt8], contentType: String?) throws(PaymentRequestDecoder.Failure) -> PaymentService.Claim {
        var problems: [FieldProblem] = []
        let fields = try PaymentRequestDecoder.fields(body: body, contentType: contentType, names: names)
        let values = PaymentRequestDecoder.merged(fields, names: names, problems: &problems)
        // The code's own shape is checked where it is looked up: a mistyped code is a failed guess
        // (404, counted), not a malformed request.
        let code = PaymentRequestDecoder.text(values, "claim_code", "codigo_canje", required: true, max: 64, problems: &problems)
        let (mac, ip, autoConnect) = PaymentRequestDecoder.device(values, problems: &problems)
        guard problems.isEmpty, let code else { throw .invalid(problems) }
        return PaymentService.Claim(code: code, mac: mac, ip: ip, autoConnect: autoConnect)
    }
}
