import API
import Domain
import Testing

@Suite struct ErrorResponseTests {
    @Test func everyServiceErrorMapsToAStatusAndACode() {
        let failures: [AuthFailure] = [
            .missing, .malformed, .badSignature, .expired, .revoked, .unknownKey, .routerInactive, .companyInactive,
        ]
        let codes = Set(failures.map { ErrorResponse.describe(.unauthorized($0)).codigo })
        #expect(codes.count == failures.count)
        for failure in failures {
            let status = ErrorResponse.describe(.unauthorized(failure)).status
            #expect(status == 401 || status == 403)
        }
        #expect(ErrorResponse.describe(.storeUnavailable).status == 503)
        #expect(ErrorResponse.describe(.internalFailure("SELECT secret")).detail == "Error interno del servidor.")
        let invalid = ErrorResponse.response(
            for: .invalidRequest([FieldProblem(field: "mac_cliente", message: "MAC inválida")]), requestID: "r")
        #expect(invalid.status == 422)
        #expect(String(decoding: invalid.body, as: UTF8.self).contains(#""campos":[{"campo":"mac_cliente","mensaje":"MAC inválida"}]"#))
    }
}
