/*
 * A stand-in for Conekta.js, served by the sandbox Conekta server at /conekta.js (conekta.py).
 *
 * The same surface the portal uses from the real library: Conekta.setPublicKey/getPublicKey,
 * setLanguage/getLanguage, Conekta.Token.create(params, onSuccess, onError) with the real
 * callback shapes, and the Conekta.card validators. Like the real one it sends the card to the
 * API host it was loaded from (POST /tokens, authenticated with the public key), so a page's
 * CSP and CORS are exercised as in production. The sandbox maps test card numbers to its token
 * kinds (the table is in conekta.py and the README). Never use it with real cards.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var apiBase = script && script.src ? new URL(script.src).origin : "";
  var publicKey = null;
  var language = "es";

  function error(type, purchaserMessage, message, extra) {
    var result = { object: "error", type: type, message: message || purchaserMessage, message_to_purchaser: purchaserMessage };
    for (var name in extra || {}) result[name] = extra[name];
    return result;
  }

  function digits(value) {
    return String(value == null ? "" : value).replace(/[\s-]/g, "");
  }

  function luhn(number) {
    if (!/^\d{12,19}$/.test(number)) return false;
    var sum = 0;
    for (var i = 0; i < number.length; i++) {
      var digit = Number(number.charAt(number.length - 1 - i));
      if (i % 2 === 1) {
        digit *= 2;
        if (digit > 9) digit -= 9;
      }
      sum += digit;
    }
    return sum % 10 === 0;
  }

  function fullYear(year) {
    var text = String(year == null ? "" : year).trim();
    if (/^\d{2}$/.test(text)) return 2000 + Number(text);
    return /^\d{4}$/.test(text) ? Number(text) : NaN;
  }

  var card = {
    validateNumber: function (number) {
      return luhn(digits(number));
    },
    validateExpirationDate: function (month, year) {
      var m = Number(String(month == null ? "" : month).trim());
      var y = fullYear(year);
      if (!(m >= 1 && m <= 12) || isNaN(y)) return false;
      var now = new Date();
      return y > now.getFullYear() || (y === now.getFullYear() && m >= now.getMonth() + 1);
    },
    validateCVC: function (cvc) {
      return /^\d{3,4}$/.test(String(cvc == null ? "" : cvc).trim());
    },
    getBrand: function (number) {
      var n = digits(number);
      if (/^4/.test(n)) return "visa";
      if (/^(5[1-5]|2[2-7])/.test(n)) return "mastercard";
      if (/^3[47]/.test(n)) return "amex";
      return null;
    },
  };

  function create(params, onSuccess, onError) {
    var fail = function (result) {
      setTimeout(function () {
        if (typeof onError === "function") onError(result);
      }, 0);
    };
    if (!publicKey) {
      return fail(error("authentication_error", "No se pudo procesar la tarjeta.", "Conekta.setPublicKey was not called."));
    }
    var given = (params && params.card) || {};
    var body = JSON.stringify({
      card: {
        number: digits(given.number),
        name: given.name == null ? "" : String(given.name),
        exp_month: given.exp_month == null ? "" : String(given.exp_month),
        exp_year: given.exp_year == null ? "" : String(given.exp_year),
        cvc: given.cvc == null ? "" : String(given.cvc),
      },
    });
    var request = new XMLHttpRequest();
    request.open("POST", apiBase + "/tokens");
    request.setRequestHeader("Content-Type", "application/json");
    request.setRequestHeader("Accept", "application/vnd.conekta-v0.3.0+json");
    request.setRequestHeader("Accept-Language", language);
    request.setRequestHeader("Authorization", "Basic " + btoa(publicKey + ":"));
    request.timeout = 20000;
    request.onload = function () {
      var reply = null;
      try {
        reply = JSON.parse(request.responseText);
      } catch (e) {
        reply = null;
      }
      if (request.status === 200 && reply && reply.object === "token") {
        if (typeof onSuccess === "function") onSuccess(reply);
      } else {
        fail(reply && reply.object === "error" ? reply
          : error("api_error", "No se pudo procesar la tarjeta. Intenta de nuevo.", "Something went wrong on Conekta's end"));
      }
    };
    request.onerror = request.ontimeout = function () {
      fail(error("api_error", "No se pudo conectar con el procesador de pagos. Revisa tu conexión.",
        "Something went wrong, possibly a connectivity issue"));
    };
    request.send(body);
  }

  window.Conekta = {
    setPublicKey: function (key) {
      publicKey = typeof key === "string" && key ? key : null;
    },
    getPublicKey: function () {
      return publicKey;
    },
    setLanguage: function (value) {
      language = value === "en" ? "en" : "es";
    },
    getLanguage: function () {
      return language;
    },
    Token: { create: create },
    token: { create: create },
    card: card,
  };
})();
