// Bodies Conekta answers, for the client's unit tests. Most are trimmed copies of the recorded
// Mockoon mock in Conekta's official OpenAPI repository (github.com/conekta/openapi,
// mocks/conekta_api.json, MIT licence, kept in sandbox/schemas/LICENSE.conekta-openapi; see
// docs/sources.md C): only noise unrelated to payments (shipping, fiscal entity, channel, barcode
// URLs) was removed. The others are the examples in the same repository's api.yaml, or the legacy
// shape docs/sources.md C1 describes; each says where it comes from.

import HTTPTransport
import TestSupport
import Testing

extension HTTPResponse {
    /// A reply as Conekta sends it: `body` labelled with Conekta's versioned JSON media type.
    static func conekta(
        _ status: Int, _ body: String, contentType: String = "application/vnd.conekta-v2.2.0+json"
    )
        -> HTTPResponse
    {
        .json(status, body, contentType: contentType)
    }
}

extension FakeTransport {
    /// Serves one reply as Conekta sends it, `status` and `body`; a second request fails the test.
    convenience init(status: Int, body: String, sourceLocation: SourceLocation = #_sourceLocation) {
        self.init([.success(.conekta(status, body))], sourceLocation: sourceLocation)
    }
}

enum ConektaFixtures {
    /// Mock `POST /orders` "successful operation card ": paid, 10000 MXN, Visa 4242.
    static let paidCardOrder = #"""
        {
         "livemode": false,
         "amount": 10000,
         "currency": "MXN",
         "payment_status": "paid",
         "amount_refunded": 0,
         "customer_info": {
          "email": "Dominic.Franecki@gmail.com",
          "phone": "3143159054",
          "name": "frane amas",
          "corporate": null,
          "customer_id": null,
          "date_of_birth": null,
          "national_id": null,
          "object": "customer_info"
         },
         "object": "order",
         "id": "ord_2znsF4cv7L8sWnRya",
         "metadata": {
          "test": "false"
         },
         "is_refundable": true,
         "created_at": 1774901374,
         "updated_at": 1774901374,
         "line_items": {
          "object": "list",
          "has_more": false,
          "total": 1,
          "data": [
           {
        "name": "APOYO URGENTE REFERENCIA",
        "description": null,
        "unit_price": 10000,
        "quantity": 1,
        "sku": "COL094",
        "tags": null,
        "brand": "CHEDRAUI",
        "type": null,
        "object": "line_item",
        "id": "line_item_2znsF4cv7L8sWnRyW",
        "parent_id": "ord_2znsF4cv7L8sWnRya",
        "metadata": {},
        "antifraud_info": {}
           }
          ]
         },
         "charges": {
          "object": "list",
          "has_more": false,
          "total": 1,
          "data": [
           {
        "id": "69cad87e5325490001cdd48d",
        "livemode": false,
        "created_at": 1774901374,
        "currency": "MXN",
        "failure_code": null,
        "failure_message": null,
        "monthly_installments": null,
        "payment_method": {
         "name": "ñeyueyute nene",
         "exp_month": "08",
         "exp_year": "26",
         "auth_code": "582483",
         "object": "card_payment",
         "type": "credit",
         "last4": "4242",
         "brand": "visa",
         "issuer": "BANAMEX",
         "account_type": "Credit",
         "country": "MX",
         "token_id": "tok_2znsEnNtewkbkqqCK",
         "three_ds_flow_required": false
        },
        "object": "charge",
        "description": "Payment from order",
        "is_refundable": true,
        "reference_id": null,
        "status": "paid",
        "amount": 10000,
        "paid_at": 1774901374,
        "customer_id": "",
        "order_id": "ord_2znsF4cv7L8sWnRya",
        "refunds": null
           }
          ]
         }
        }
        """#

    /// Mock `POST /orders` "successful operation with 3ds": pending_payment, charges null, next_action.
    static let threeDSPendingOrder = #"""
        {
         "livemode": false,
         "amount": 5539,
         "currency": "MXN",
         "payment_status": "pending_payment",
         "amount_refunded": 0,
         "customer_info": {
          "email": "daniela.rodriguez@conekta.com",
          "phone": "52000000000",
          "name": "daniela rodriguez",
          "corporate": false,
          "customer_id": "cus_2v4G1Zx9wRpN5vyy2",
          "object": "customer_info",
          "customer_custom_reference": null
         },
         "next_action": {
          "redirect_to_url": {
           "url": "https://3ds-pay.conekta.com/a9b6ea04-d405-4a58-b299-f985aefef006",
           "return_url": "{{body 'return_url'}}"
          },
          "type": "redirect_to_url"
         },
         "object": "order",
         "id": "ord_2v4bXXEfZEfjDNcjd",
         "metadata": {
          "magento_version": "2.4.6-p2",
          "plugin": "Magento",
          "plugin_conekta_version": "5.1.0",
          "quote_id": "3",
          "store": 1,
          "is_customer_guest": true
         },
         "is_refundable": false,
         "created_at": 1702415725,
         "updated_at": 1702415725,
         "line_items": {
          "object": "list",
          "has_more": false,
          "total": 1,
          "data": [
           {
        "name": "Deirdre RelaxedFit Capri29Green",
        "description": "Deirdre RelaxedFit Capri29Green  WP1229Green",
        "unit_price": 5040,
        "quantity": 1,
        "sku": "WSH07-29-Purple",
        "tags": [
         "simple"
        ],
        "brand": null,
        "type": null,
        "object": "line_item",
        "id": "line_item_2v4bXXEfZEfjDNcjV",
        "parent_id": "ord_2v4bXXEfZEfjDNcjd",
        "metadata": {
         "product_id": "1895"
        },
        "antifraud_info": {}
           }
          ]
         },
         "charges": null
        }
        """#

    /// Mock `POST /orders` 402 "payment required": a decline whose `data` is the order.
    static let declinedSuspicious = #"""
        {
         "details": [
          {
           "debug_message": "This charge has been declined due to the users suspicious behavior.",
           "message": "Tu método de pago ha sido rechazado, intenta con otro método.",
           "code": "conekta.errors.processing.charge.card_payment.suspicious_behaviour"
          }
         ],
         "object": "error",
         "type": "processing_error",
         "log_id": "640751978bb237000129ebc5",
         "data": {
          "livemode": true,
          "amount": 2000,
          "currency": "MXN",
          "amount_refunded": 0,
          "customer_info": {
           "email": "Alec_Fay59@yahoo.com",
           "phone": "+5215555555555",
           "name": "Elio Rincon",
           "corporate": false,
           "customer_id": "cus_2tKcHxhTz7xU5SymF2",
           "object": "customer_info"
          },
          "object": "order",
          "id": "ord_2tUyQmZyykejbbw8m",
          "metadata": {},
          "is_refundable": true,
          "created_at": 1678201239,
          "updated_at": 1678201239,
          "line_items": {
           "object": "list",
           "has_more": false,
           "total": 1,
           "data": [
        {
         "name": "Pago Mensualidad",
         "description": "Mes de Febrero.",
         "unit_price": 2000,
         "quantity": 1,
         "tags": [
          "Pago",
          "Pago mensualidad"
         ],
         "object": "line_item",
         "id": "line_item_2tUyQmZyykejbbw8h",
         "parent_id": "ord_2tUyQmZyykejbbw8m",
         "metadata": {},
         "antifraud_info": {}
        }
           ]
          },
          "charges": {
           "object": "list",
           "has_more": false,
           "total": 1,
           "data": [
        {
         "id": "640751978bb237000129ebd1",
         "livemode": true,
         "created_at": 1678201239,
         "currency": "MXN",
         "failure_code": "suspected_fraud",
         "failure_message": "Este cargo ha sido declinado porque el comportamiento del comprador es sospechoso.",
         "payment_method": {
          "name": "erererere ererere ",
          "exp_month": "06",
          "exp_year": "24",
          "object": "card_payment",
          "type": "credit",
          "last4": "4607",
          "brand": "mastercard",
          "issuer": "JOINT STOCK SAVINGS BANK BELARUSBANK",
          "account_type": "BUSINESS",
          "country": "BY"
         },
         "object": "charge",
         "description": "Payment from order",
         "status": "declined",
         "amount": 2000,
         "fee": 209,
         "customer_id": "cus_2tKcHxhTz7xU5SymF",
         "order_id": "ord_2tUyQmZyykejbbw8m"
        }
           ]
          }
         }
        }
        """#

    /// Mock `GET /orders/:id` 404 "not found entity".
    static let orderNotFound = #"""
        {
         "details": [
          {
           "debug_message": "The object Order \"ord_2tUhuyzqLi6UJE9D12\" could not be found.",
           "message": "The resource was not found.",
           "code": "conekta.errors.resource_not_found.entity"
          }
         ],
         "object": "error",
         "type": "resource_not_found_error",
         "log_id": "6407b2dde1329a000175b9ce"
        }
        """#

    /// Mock `POST /orders/:id/refunds` 200 "successful": 15000 of 40000 refunded.
    static let partiallyRefundedOrder = #"""
        {
         "livemode": true,
         "amount": 40000,
         "currency": "MXN",
         "payment_status": "partially_refunded",
         "amount_refunded": 15000,
         "customer_info": {
          "email": "Miles_Price@gmail.com",
          "phone": "+5215555555555",
          "name": "Elio Rincon",
          "corporate": true,
          "customer_id": "cus_2tKZmA749BLsMRgBY",
          "object": "customer_info"
         },
         "object": "order",
         "id": "ord_2tV52JvSom2w3E8bX",
         "metadata": {},
         "is_refundable": true,
         "created_at": 1678226814,
         "updated_at": 1678226878,
         "line_items": {
          "object": "list",
          "has_more": false,
          "total": 1,
          "data": [
           {
        "name": "Pago Mensualidad",
        "description": "Mes de Febrero.",
        "unit_price": 40000,
        "quantity": 1,
        "tags": [
         "Pago",
         "Pago mensualidad"
        ],
        "object": "line_item",
        "id": "line_item_2tV52JvSom2w3E8bU",
        "parent_id": "ord_2tV52JvSom2w3E8bX",
        "metadata": {},
        "antifraud_info": {}
           }
          ]
         },
         "charges": {
          "object": "list",
          "has_more": false,
          "total": 1,
          "data": [
           {
        "id": "6407b57ee1329a000175b9fc",
        "livemode": true,
        "created_at": 1678226815,
        "currency": "MXN",
        "payment_method": {
         "name": "erererere ererere ",
         "exp_month": "06",
         "exp_year": "24",
         "auth_code": "867372",
         "object": "card_payment",
         "type": "credit",
         "last4": "4607",
         "brand": "mastercard",
         "issuer": "JOINT STOCK SAVINGS BANK BELARUSBANK",
         "account_type": "BUSINESS",
         "country": "BY"
        },
        "object": "charge",
        "description": "Payment from order",
        "status": "partially_refunded",
        "amount": 40000,
        "paid_at": 1678226816,
        "fee": 1972,
        "customer_id": "cus_2tKZmA749BLsMRgBY",
        "order_id": "ord_2tV52JvSom2w3E8bX",
        "refunds": {
         "object": "list",
         "has_more": false,
         "total": 1,
         "data": [
          {
           "object": "refund",
           "amount": -15000,
           "id": "6407b5bee1329a000175ba11",
           "created_at": 1678226878,
           "auth_code": "867372"
          }
         ]
        }
           }
          ]
         }
        }
        """#

    /// Mock `POST /orders/:id/cancel` 200.
    static let canceledOrder = #"""
        {
         "livemode": true,
         "amount": 40100,
         "currency": "MXN",
         "payment_status": "canceled",
         "amount_refunded": 0,
         "customer_info": {
          "email": "Miles_Price@gmail.com",
          "phone": "+5215555555555",
          "name": "demo demo",
          "corporate": true,
          "customer_id": "cus_2tKZmA749BLsMRgBY",
          "object": "customer_info",
          "customer_custom_reference": null
         },
         "object": "order",
         "id": "ord_2tqaGQYZyvBsMKEgs",
         "metadata": {},
         "is_refundable": false,
         "created_at": 1683645760,
         "updated_at": 1683645774,
         "line_items": {
          "object": "list",
          "has_more": false,
          "total": 1,
          "data": [
           {
        "name": "Pago Mensualidad",
        "description": "Mes de Febrero.",
        "unit_price": 40000,
        "quantity": 1,
        "sku": null,
        "tags": [
         "Pago",
         "Pago mensualidad"
        ],
        "brand": null,
        "type": null,
        "object": "line_item",
        "id": "line_item_2tqaGQYZyvBsMKEgo",
        "parent_id": "ord_2tqaGQYZyvBsMKEgs",
        "metadata": {},
        "antifraud_info": {}
           }
          ]
         },
         "charges": {
          "object": "list",
          "has_more": false,
          "total": 1,
          "data": [
           {
        "id": "645a6540ca7fe20001f11031",
        "livemode": true,
        "created_at": 1683645760,
        "currency": "MXN",
        "failure_code": null,
        "failure_message": null,
        "monthly_installments": null,
        "payment_method": {
         "service_name": "OxxoPay",
         "store": null,
         "auth_code": null,
         "object": "cash_payment",
         "type": "oxxo",
         "expires_at": 1686268800,
         "store_name": "OXXO",
         "reference": "93000262285701",
         "cashier_id": null
        },
        "object": "charge",
        "description": "Payment from order",
        "is_refundable": false,
        "reference_id": null,
        "status": "canceled",
        "amount": 40100,
        "paid_at": null,
        "customer_id": "",
        "order_id": "ord_2tqaGQYZyvBsMKEgs",
        "refunds": null
           }
          ]
         }
        }
        """#

    /// Mock `POST /orders/:id/cancel` 500.
    static let internalError = #"""
        {
         "details": [
          {
           "debug_message": "There was a runtime error and Conekta engineers have been notified.",
           "message": "There was a runtime error and Conekta engineers have been notified.",
           "param": null,
           "code": "conekta.errors.api.system.general_failure"
          }
         ],
         "object": "error",
         "type": "api_error",
         "log_id": "641b6f2b3cd9a50001515098"
        }
        """#

    /// api.yaml, `POST /orders/{id}/refunds` 402 example: the token was used before.
    static let tokenUsed = #"""
        {"details": [{"message": "The card could not be processed.", "code": "conekta.errors.processing.tokenization.used",
          "debug_message": "The token has already been used."}],
         "log_id": "641b6d073cd9a50001515007", "object": "error", "type": "processing_error"}
        """#

    /// api.yaml, `POST /orders` 401 example.
    static let authenticationError = #"""
        {"details": [{"message": "Please include your access key in your request.",
          "code": "conekta.errors.authentication.missing_key"}],
         "log_id": "507f1f77bcf86cd799439011", "object": "error", "type": "authentication_error"}
        """#

    /// api.yaml, 422 example: the token does not exist.
    static let nonexistentToken = #"""
        {"details": [{"message": "The token does not exist.", "param": "payment_method.token_id",
          "code": "conekta.errors.parameter_validation.payment_method.token_id.nonexistent_token",
          "debug_message": "The token does not exist."}],
         "log_id": "641b6d813cd9a50001515017", "object": "error", "type": "parameter_validation_error"}
        """#

    /// The pre-2.0 error shape (docs/sources.md C1: message, message_to_purchaser, code and param
    /// at the top level, no details; legacy conekta-php handler, conekta-node#14). The texts are
    /// made up.
    static let legacyDecline = #"""
        {"object": "error", "type": "card_error", "code": "card_declined", "param": null,
         "message": "The card was declined.", "message_to_purchaser": "Tu tarjeta fue declinada."}
        """#
}
