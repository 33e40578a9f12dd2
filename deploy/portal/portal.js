// The payment page: pick a plan, tokenize the card with Conekta.js, pay through hotspot-pay's
// API, show the Wi-Fi credentials and log the device in to the MikroTik hotspot. Or pay later
// (CONTRACT §12): get an OXXO reference or a SPEI CLABE and a claim code, pay, then redeem the
// code for the same credentials. Plain JavaScript, no build step; settings in config.js.
(function () {
  "use strict";

  var settings = window.HOTSPOT_PORTAL_CONFIG || {};
  var apiBase = String(settings.apiBase || "").replace(/\/+$/, "");
  var PENDING = "hotspot-pay:pago-pendiente";
  var RECEIPT = "hotspot-pay:recibo";
  // A pay-later order's terms and claim code, per router, in localStorage: a customer who closes
  // the page and comes back after paying can still claim the access.
  var CLAIM = "hotspot-pay:canje:";
  var byId = function (id) {
    return document.getElementById(id);
  };

  // -- What the hotspot's login page passed (mikrotik/login.html) ---------------------------------

  // The fragment (#k=…&mac=…) is never sent to a server, so the key, the device's MAC and the
  // hotspot's addresses stay out of access logs and Referer headers.
  var hotspot = readHotspot(new URLSearchParams(location.hash.replace(/^#/, "")));

  function readHotspot(params) {
    var mac = (params.get("mac") || "").trim();
    var ip = (params.get("ip") || "").trim();
    var tipo = params.get("tipo") || settings.tipoUsuario;
    return {
      key: (params.get("k") || settings.apiKey || "").trim(),
      mac: /^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/.test(mac) ? mac : "",
      ip: /^(\d{1,3})(\.\d{1,3}){3}$/.test(ip) ? ip : "",
      login: safeLoginUrl(params.get("login")),
      dst: safeUrl(params.get("dst")),
      chapId: hexBytes(params.get("chap_id")),
      chapChallenge: hexBytes(params.get("chap_challenge")),
      tipo: tipo === "pin" ? "pin" : "usuario_contrasena",
    };
  }

  function safeUrl(text) {
    if (!text) return "";
    try {
      var url = new URL(text);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : "";
    } catch (e) {
      return "";
    }
  }

  // Only an http(s) address, and one of the configured hotspot hosts when the operator listed them:
  // the credentials are posted there.
  function safeLoginUrl(text) {
    var href = safeUrl(text);
    var hosts = settings.hostsDeLogin || [];
    if (!href || hosts.length === 0) return href;
    return hosts.indexOf(new URL(href).hostname) >= 0 ? href : "";
  }

  function hexBytes(text) {
    if (!text || !/^([0-9a-fA-F]{2})+$/.test(text)) return null;
    var bytes = [];
    for (var i = 0; i < text.length; i += 2) bytes.push(parseInt(text.slice(i, i + 2), 16));
    return bytes;
  }

  // -- Status messages and focus ------------------------------------------------------------------

  var notice = byId("aviso");

  function say(text, kind) {
    notice.textContent = text;
    notice.className = "aviso" + (kind ? " aviso-" + kind : "");
    notice.hidden = !text;
  }

  // An error is announced by the live region and gets the focus, so keyboard and screen reader
  // users land on it.
  function sayError(text) {
    say(text, "error");
    notice.focus();
  }

  function show(section) {
    ["compra", "pendiente", "instrucciones", "canje", "resultado"].forEach(function (id) {
      byId(id).hidden = id !== section;
    });
  }

  // -- The API ------------------------------------------------------------------------------------

  function api(method, path, body, headers, timeoutMs) {
    var controller = new AbortController();
    var timer = setTimeout(function () {
      controller.abort();
    }, timeoutMs || 20000);
    var all = { "X-API-Key": hotspot.key, Accept: "application/json" };
    Object.keys(headers || {}).forEach(function (name) {
      all[name] = headers[name];
    });
    if (body !== undefined) all["Content-Type"] = "application/json";
    return fetch(apiBase + path, {
      method: method,
      headers: all,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
      signal: controller.signal,
    }).then(function (reply) {
      return reply.text().then(function (text) {
        clearTimeout(timer);
        var data = null;
        try {
          data = text ? JSON.parse(text) : null;
        } catch (e) {
          data = null;
        }
        return { status: reply.status, data: data, retryAfter: Number(reply.headers.get("Retry-After")) || 0 };
      });
    }, function (error) {
      clearTimeout(timer);
      throw error;
    });
  }

  function detailOf(answer, fallback) {
    return (answer.data && typeof answer.data.detail === "string" && answer.data.detail) || fallback;
  }

  function codigoOf(answer) {
    return answer.data && answer.data.codigo;
  }

  // -- Loading: settings, catalogue, Conekta.js ----------------------------------------------------

  var catalogue = [];
  var conektaReady = null;

  function money(amount, currency) {
    try {
      return new Intl.NumberFormat("es-MX", { style: "currency", currency: currency || "MXN" }).format(amount);
    } catch (e) {
      return "$" + Number(amount).toFixed(2) + " " + (currency || "");
    }
  }

  function loadConekta(publicKey) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = settings.conektaJsUrl;
      script.async = true;
      script.onload = function () {
        if (!window.Conekta || !window.Conekta.Token) return reject(new Error("Conekta.js"));
        window.Conekta.setPublicKey(publicKey);
        if (window.Conekta.setLanguage) window.Conekta.setLanguage("es");
        resolve(window.Conekta);
      };
      script.onerror = function () {
        reject(new Error("Conekta.js"));
      };
      document.head.appendChild(script);
    });
  }

  function start() {
    if (!hotspot.key) {
      byId("cargando").hidden = true;
      sayError("Abre esta página desde la página de acceso del Wi-Fi: falta la clave del punto de acceso.");
      return;
    }
    Promise.all([api("GET", "/api/v1/config/public"), api("GET", "/api/v1/catalogo_perfiles_venta")]).then(
      function (answers) {
        byId("cargando").hidden = true;
        var config = answers[0];
        var products = answers[1];
        if (config.status !== 200 || products.status !== 200) {
          var failed = config.status !== 200 ? config : products;
          sayError("No pudimos cargar los planes. " + detailOf(failed, "Intenta de nuevo en unos minutos."));
          return;
        }
        showPlace(config.data);
        catalogue = Array.isArray(products.data) ? products.data : [];
        routerId = String((config.data.router && config.data.router.id) || "");
        var publicKey = config.data.empresa && config.data.empresa.conekta_public_key;
        offerMethods(config.data.empresa || {}, Boolean(publicKey));
        if (publicKey) {
          conektaReady = loadConekta(publicKey);
          conektaReady.catch(function () {
            sayError("No se pudo cargar el módulo de pagos con tarjeta. Revisa tu conexión y recarga la página.");
          });
        }
        if (resumePending() || resumeReceipt() || resumeClaim()) return;
        if (methods.length === 0) {
          sayError("Los pagos con tarjeta no están disponibles en este momento.");
          return;
        }
        showCatalogue();
      },
      function () {
        byId("cargando").hidden = true;
        sayError("No pudimos conectar con el servidor de pagos. Revisa tu conexión y recarga la página.");
      }
    );
  }

  function showPlace(config) {
    var company = config.empresa && config.empresa.nombre;
    var router = config.router || {};
    if (company) {
      byId("empresa").textContent = company;
      document.title = "Internet en " + company;
    }
    var place = [router.nombre, router.ubicacion].filter(Boolean).join(" · ");
    byId("lugar").textContent = place;
    byId("lugar").hidden = !place;
  }

  function showCatalogue() {
    var list = byId("lista-planes");
    list.textContent = "";
    if (catalogue.length === 0) {
      sayError("No hay planes a la venta en este momento.");
      return;
    }
    var chosen = catalogue.filter(function (p) {
      return p.destacado;
    })[0] || catalogue[0];
    catalogue.forEach(function (product) {
      var label = document.createElement("label");
      label.className = "plan";
      var input = document.createElement("input");
      input.type = "radio";
      input.name = "plan";
      input.value = String(product.id);
      input.checked = product === chosen;
      input.addEventListener("change", updatePayButton);
      var text = document.createElement("span");
      text.className = "plan-texto";
      var name = document.createElement("span");
      name.className = "plan-nombre";
      name.textContent = product.nombre_venta;
      var price = document.createElement("span");
      price.className = "plan-precio";
      price.textContent = money(product.precio, product.moneda);
      text.appendChild(name);
      text.appendChild(price);
      var details = [product.descripcion].concat(product.detalles || []).filter(Boolean);
      if (details.length) {
        var more = document.createElement("span");
        more.className = "plan-detalle";
        more.textContent = details.join(" · ");
        text.appendChild(more);
      }
      label.appendChild(input);
      label.appendChild(text);
      list.appendChild(label);
    });
    updatePayButton();
    show("compra");
  }

  function chosenProduct() {
    var checked = document.querySelector('input[name="plan"]:checked');
    var id = checked ? Number(checked.value) : null;
    return catalogue.filter(function (p) {
      return p.id === id;
    })[0];
  }

  function updatePayButton() {
    var product = chosenProduct();
    var price = product ? " " + money(product.precio, product.moneda) : "";
    byId("pagar").textContent = { tarjeta: "Pagar" + price, oxxo: "Obtener referencia OXXO" + (price && " ·" + price),
      spei: "Obtener CLABE para transferir" + (price && " ·" + price) }[chosenMethod()];
  }

  // -- How to pay: the card, or later in cash (OXXO) or by transfer (SPEI) ------------------------

  // What the company takes (config/public's metodos_pago) and the page can do: cards only with
  // Conekta's public key.
  var methods = [];
  var routerId = "";

  function offerMethods(company, cards) {
    var accepted = Array.isArray(company.metodos_pago) ? company.metodos_pago : ["tarjeta"];
    methods = ["tarjeta", "oxxo", "spei"].filter(function (method) {
      return accepted.indexOf(method) >= 0 && (method !== "tarjeta" || cards);
    });
    ["tarjeta", "oxxo", "spei"].forEach(function (method) {
      byId("metodo-" + method).hidden = methods.indexOf(method) < 0;
    });
    var later = methods.some(isLater);
    byId("metodos").hidden = !later;
    byId("ya-tienes").hidden = !later;
    if (methods.length) document.querySelector('input[name="metodo"][value="' + methods[0] + '"]').checked = true;
    updateMethod();
  }

  function isLater(method) {
    return method === "oxxo" || method === "spei";
  }

  function chosenMethod() {
    var checked = document.querySelector('input[name="metodo"]:checked');
    return checked && methods.indexOf(checked.value) >= 0 ? checked.value : methods[0] || "tarjeta";
  }

  function updateMethod() {
    var method = chosenMethod();
    byId("tarjeta").hidden = method !== "tarjeta";
    byId("tarjeta-titulo").textContent = (byId("metodos").hidden ? "3" : "4") + ". Tu tarjeta";
    byId("metodo-ayuda").textContent = {
      tarjeta: "",
      oxxo: "Te damos una referencia para pagar en efectivo en cualquier tienda OXXO. Tu acceso se activa cuando se acredite el pago.",
      spei: "Te damos una CLABE para transferir desde la app de tu banco. Tu acceso se activa cuando se acredite el pago.",
    }[method];
    updatePayButton();
  }

  // -- The form -----------------------------------------------------------------------------------

  var fields = ["nombre", "email", "telefono", "tarjeta-nombre", "tarjeta-numero", "tarjeta-mes", "tarjeta-anio", "tarjeta-cvc"];

  function value(id) {
    return byId(id).value.trim();
  }

  function markField(id, message) {
    var input = byId(id);
    var error = byId(id + "-error");
    input.setAttribute("aria-invalid", message ? "true" : "false");
    error.textContent = message || "";
    error.hidden = !message;
  }

  function validate(method) {
    var problems = {};
    var digits = value("tarjeta-numero").replace(/[\s-]/g, "");
    var month = Number(value("tarjeta-mes"));
    var year = value("tarjeta-anio");
    if (!value("nombre")) problems.nombre = "Escribe tu nombre.";
    if (!/^[^\s@]+@[^\s@]+\.[^\s@.]+$/.test(value("email"))) problems.email = "Escribe un correo válido, por ejemplo nombre@correo.com.";
    var phone = value("telefono");
    var phoneDigits = phone.replace(/\D/g, "").length;
    if (phone && (!/^[0-9+\-(). ]+$/.test(phone) || phoneDigits < 7 || phoneDigits > 15)) problems.telefono = "Escribe un teléfono de 10 dígitos o déjalo vacío.";
    if (method === "tarjeta") {
      if (!value("tarjeta-nombre")) problems["tarjeta-nombre"] = "Escribe el nombre como aparece en la tarjeta.";
      if (!/^\d{13,19}$/.test(digits)) problems["tarjeta-numero"] = "Escribe los 15 o 16 dígitos de la tarjeta.";
      if (!(month >= 1 && month <= 12)) problems["tarjeta-mes"] = "Mes de 01 a 12.";
      if (!/^\d{2}(\d{2})?$/.test(year)) problems["tarjeta-anio"] = "Año con 2 dígitos, por ejemplo 29.";
      if (!/^\d{3,4}$/.test(value("tarjeta-cvc"))) problems["tarjeta-cvc"] = "3 o 4 dígitos al reverso de la tarjeta.";
    }
    fields.forEach(function (id) {
      markField(id, problems[id]);
    });
    var first = fields.filter(function (id) {
      return problems[id];
    })[0];
    if (!chosenProduct()) {
      sayError("Elige un plan.");
      document.querySelector('input[name="plan"]').focus();
      return false;
    }
    if (first) {
      say("Revisa los datos marcados.", "error");
      byId(first).focus();
      return false;
    }
    return true;
  }

  function busy(on, label) {
    byId("compra").setAttribute("aria-busy", on ? "true" : "false");
    Array.prototype.forEach.call(document.querySelectorAll("#compra fieldset"), function (fieldset) {
      fieldset.disabled = on;
    });
    byId("pagar").disabled = on;
    if (on) byId("pagar").textContent = label;
    else updatePayButton();
  }

  function onSubmit(event) {
    event.preventDefault();
    var method = chosenMethod();
    if (!validate(method)) return;
    if (isLater(method)) {
      busy(true, "Procesando…");
      say(method === "oxxo" ? "Generando tu referencia de pago…" : "Generando tu CLABE de pago…", "info");
      return purchase(null, method);
    }
    if (!conektaReady) return;
    busy(true, "Procesando…");
    say("Verificando tu tarjeta…", "info");
    conektaReady.then(tokenize, function () {
      busy(false);
      sayError("No se pudo cargar el módulo de pagos con tarjeta. Revisa tu conexión y recarga la página.");
    });
  }

  function tokenize(conekta) {
    var card = {
      number: value("tarjeta-numero").replace(/[\s-]/g, ""),
      name: value("tarjeta-nombre"),
      exp_month: value("tarjeta-mes"),
      exp_year: value("tarjeta-anio"),
      cvc: value("tarjeta-cvc"),
    };
    conekta.Token.create(
      { card: card },
      function (token) {
        purchase(token.id, "tarjeta");
      },
      function (error) {
        busy(false);
        var field = { "card[number]": "tarjeta-numero", "card[name]": "tarjeta-nombre", "card[exp_month]": "tarjeta-mes",
          "card[exp_year]": "tarjeta-anio", "card[cvc]": "tarjeta-cvc" }[error && error.param];
        var message = (error && (error.message_to_purchaser || error.message)) || "No se pudo procesar la tarjeta.";
        if (field) markField(field, message);
        sayError(message + " No se hizo ningún cargo.");
      }
    );
  }

  // -- The payment --------------------------------------------------------------------------------

  // One Idempotency-Key per purchase, made when the card is tokenized: any resend of this
  // purchase (after a network error, a 5xx, "en proceso") carries the same key and body, so the
  // server answers with the same payment instead of charging again.
  function newKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "portal-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  // A card purchase carries its token; a pay-later one its method and no token.
  function purchase(token, method) {
    var product = chosenProduct();
    var body = {
      producto_id: product.id,
      nombre_cliente: value("nombre"),
      email_cliente: value("email"),
      tipo_usuario: hotspot.tipo,
      conexion_automatica: Boolean(hotspot.mac),
      info_dispositivo: navigator.userAgent.slice(0, 500),
    };
    if (token) body.token_tarjeta = token;
    else body.metodo_pago = method;
    if (value("telefono")) body.telefono_cliente = value("telefono");
    if (hotspot.mac) body.mac_cliente = hotspot.mac;
    if (hotspot.ip) body.ip_cliente = hotspot.ip;
    var pending = { key: newKey(), body: body, tries: 0 };
    remember(PENDING, pending);
    clearCard();
    send(pending);
  }

  var retryTimer = null;

  function send(pending) {
    clearTimeout(retryTimer);
    pending.tries += 1;
    remember(PENDING, pending);
    byId("consultar").disabled = true;
    if (!byId("pendiente").hidden) say("Consultando el resultado de tu pago…", "info");
    else say("Procesando tu pago. No cierres esta página.", "info");
    // Above nginx's 60 s bound on a payment.
    api("POST", "/api/v1/payments/pagar-conekta", pending.body, { "Idempotency-Key": pending.key }, 70000).then(
      function (answer) {
        handle(pending, answer);
      },
      function () {
        waitFor(pending, "No pudimos confirmar tu pago por un problema de conexión. No vuelvas a pagar: " +
          "en cuanto vuelva la conexión consultamos el resultado de este mismo pago.", 5);
      }
    );
  }

  function handle(pending, answer) {
    var codigo = codigoOf(answer);
    if (answer.status === 200 && answer.data && answer.data.success) {
      forget(PENDING);
      remember(RECEIPT, answer.data);
      showReceipt(answer.data, true);
      return;
    }
    // A pay-later order waiting for the money: how to pay it, and the claim code.
    if (answer.status === 202 && codigo === "pago_pendiente" && answer.data) {
      forget(PENDING);
      busy(false);
      var claim = termsOf(answer.data, answer.data.codigo_canje || "");
      if (claim.codigo) keepClaim(claim);
      showInstructions(claim, true);
      return;
    }
    // The outcome is not known yet, or the request never reached the payment: ask again with
    // the same key; never tokenize a new card for it.
    // The server's own words for these tell a program to repeat the request: the page does that
    // for the customer, so it says so in theirs.
    if (codigo === "pago_en_verificacion") {
      return waitFor(pending, (pending.body.metodo_pago ? "Todavía no recibimos tu referencia de pago de Conekta. "
        : "Todavía no tenemos la respuesta del banco sobre tu pago. ") + "Esta página vuelve a consultar el resultado " +
        "de este mismo pago automáticamente; también puedes presionar «Consultar de nuevo».",
        Math.min(60, 5 * Math.pow(2, Math.min(pending.tries - 1, 4))));
    }
    if (codigo === "activacion_pendiente") {
      return waitFor(pending, "Recibimos tu pago y estamos activando tu acceso. En unos segundos verás tus datos.",
        answer.retryAfter || 3);
    }
    if (codigo === "en_proceso") {
      return waitFor(pending, "Tu pago se está procesando. En unos segundos verás el resultado.", answer.retryAfter || 2);
    }
    if (answer.status === 429 && codigo !== "demasiados_intentos") {
      return waitFor(pending, "Hay demasiadas solicitudes en este momento. Reintentamos este mismo pago en unos segundos.",
        answer.retryAfter || 2);
    }
    if (answer.status === 502 || answer.status === 503 || answer.status === 504) {
      return waitFor(pending, "El servicio de pagos no respondió. No vuelvas a pagar: consultamos el resultado de este mismo pago en unos segundos.",
        answer.retryAfter || 5);
    }
    // A final answer: this purchase is over, the next one tokenizes the card again.
    forget(PENDING);
    if (byId("lista-planes").children.length === 0) showCatalogue();
    show("compra");
    busy(false);
    if (codigo === "pago_declinado") {
      sayError("Tu tarjeta fue rechazada. " + detailOf(answer, "") + " No se hizo ningún cargo; puedes intentar con otra tarjeta.");
    } else if (codigo === "pago_no_completado") {
      sayError(detailOf(answer, "El pago no se completó.") + " Puedes intentar con otra tarjeta.");
    } else if (codigo === "demasiados_intentos") {
      sayError(detailOf(answer, "Demasiados pagos rechazados desde este dispositivo. Intenta más tarde."));
    } else if (answer.status === 422 && answer.data && Array.isArray(answer.data.campos)) {
      sayError(detailOf(answer, "Revisa tus datos.") + " " + answer.data.campos.map(function (c) {
        return c.mensaje || c.message || "";
      }).join(" "));
    } else {
      sayError(detailOf(answer, "No se pudo completar el pago (error " + answer.status + ")."));
    }
  }

  var countdownTimer = null;

  function waitFor(pending, message, seconds) {
    var entering = byId("pendiente").hidden;
    show("pendiente");
    byId("pendiente-texto").textContent = message;
    byId("consultar").disabled = false;
    say("Tu pago está pendiente de confirmar. No vuelvas a pagar.", "pendiente");
    if (entering) byId("pendiente-titulo").focus();
    // Automatic checks for a while; after that the button.
    if (pending.tries < 12) {
      retryTimer = setTimeout(function () {
        send(pending);
      }, seconds * 1000);
    }
  }

  function resumePending() {
    var pending = recall(PENDING);
    if (!pending || !pending.key || !pending.body) return false;
    waitFor(pending, "Tienes un pago sin confirmar. No vuelvas a pagar: estamos consultando su resultado.", 0);
    return true;
  }

  function resumeReceipt() {
    var receipt = recall(RECEIPT);
    if (!receipt || !receipt.usuario_hotspot) return false;
    showReceipt(receipt, false);
    return true;
  }

  // -- Pay later: how to pay, and the claim code -------------------------------------------------

  // What the page keeps of a pay-later order: the purchase's 202 (or a claim's) and the code.
  function termsOf(data, code) {
    return {
      codigo: code, metodo: data.metodo_pago, monto: data.monto, moneda: data.moneda, expira: data.expira,
      referencia: data.referencia, barras: data.url_codigo_barras, clabe: data.clabe, banco: data.banco,
    };
  }

  function showInstructions(claim, fresh) {
    stopClaim();
    show("instrucciones");
    var oxxo = claim.metodo !== "spei";
    var expires = Date.parse(claim.expira);
    byId("instrucciones-titulo").textContent = oxxo ? "Paga en efectivo en OXXO" : "Paga por transferencia SPEI";
    byId("instrucciones-texto").textContent = expires < Date.now()
      ? "Esta referencia ya venció. Si pagaste antes de que venciera, presiona «Ya pagué» para recibir tu acceso."
      : oxxo ? "Muestra la referencia en la caja de cualquier tienda OXXO y paga en efectivo el monto exacto."
        : "Desde la app o el portal de tu banco, transfiere por SPEI el monto exacto a esta CLABE.";
    byId("pago-monto").textContent = money(claim.monto, claim.moneda) + " " + (claim.moneda || "");
    byId("copiar-monto").setAttribute("data-texto", Number(claim.monto).toFixed(2)); // as banking apps take it
    showTerm("referencia", oxxo && claim.referencia);
    showTerm("clabe", !oxxo && claim.clabe);
    showTerm("banco", !oxxo && claim.banco);
    byId("pago-expira").textContent = isNaN(expires) ? "—" : localTime(expires);
    var barcode = byId("pago-codigo-barras");
    barcode.hidden = true;
    barcode.removeAttribute("src");
    if (oxxo && /^https:\/\//.test(claim.barras || "")) {
      // Shown once it loads: the reference alone is enough at the till.
      barcode.onload = function () {
        barcode.hidden = false;
      };
      barcode.src = claim.barras;
    }
    byId("pago-codigo").textContent = claim.codigo;
    byId("caja-codigo").hidden = !claim.codigo;
    byId("ya-pague").hidden = !claim.codigo;
    say(fresh ? "Tu pedido está registrado. Guarda tu código de canje." : "Tienes un pago pendiente.", "exito");
    byId("instrucciones-titulo").focus();
  }

  function showTerm(name, text) {
    byId("fila-" + name).hidden = !text;
    byId("pago-" + name).textContent = text || "";
  }

  // The device's own time zone, in words: "martes, 25 de noviembre de 2026, 13:42".
  function localTime(milliseconds) {
    var date = new Date(milliseconds);
    try {
      return new Intl.DateTimeFormat("es-MX", { dateStyle: "full", timeStyle: "short" }).format(date);
    } catch (e) {
      return date.toLocaleString();
    }
  }

  // navigator.clipboard needs a secure context (not a plain-HTTP hotspot page): then a selected
  // textarea and execCommand, and failing that the text is selected for the customer to copy.
  function copy(button) {
    var source = byId(button.getAttribute("data-copiar"));
    var text = button.getAttribute("data-texto") || source.textContent.trim();
    var done = function () {
      button.textContent = "Copiado";
      say("Copiado al portapapeles.", "exito");
      setTimeout(function () {
        button.textContent = "Copiar";
      }, 2500);
    };
    var fallback = function () {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "fuera";
      document.body.appendChild(area);
      area.select();
      var copied = false;
      try {
        copied = document.execCommand("copy");
      } catch (e) {
        copied = false;
      }
      document.body.removeChild(area);
      button.focus();
      if (copied) return done();
      var range = document.createRange();
      range.selectNodeContents(source);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      say("No pudimos copiar: el texto quedó seleccionado para que lo copies.", "info");
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
  }

  // -- Redeeming the claim code ("Ya pagué") -------------------------------------------------------

  var claimTimer = null;
  var claimRun = 0; // answers of a run the customer left are ignored
  var claimTries = 0;

  function openClaim(code) {
    stopClaim();
    show("canje");
    byId("canje-espera").hidden = true;
    byId("codigo-canje").value = code || "";
    markField("codigo-canje", "");
    say("", null);
    if (code) return submitClaim();
    byId("codigo-canje").focus();
  }

  function stopClaim() {
    claimRun += 1;
    clearTimeout(claimTimer);
    byId("canjear").disabled = false;
  }

  // As the server reads it (Crockford): any case, spaces and dashes ignored; shown XXXXX-XXXXX.
  function formatCode(text) {
    var code = text.toUpperCase().replace(/[\s-]/g, "");
    return /^[0-9A-Z]{10}$/.test(code) ? code.slice(0, 5) + "-" + code.slice(5) : "";
  }

  function submitClaim(event) {
    if (event) event.preventDefault();
    var code = formatCode(byId("codigo-canje").value);
    if (!code) {
      markField("codigo-canje", "Escribe las 10 letras y números de tu código, por ejemplo 7KQ3M‑X9ZT2.");
      byId("codigo-canje").focus();
      return;
    }
    byId("codigo-canje").value = code;
    markField("codigo-canje", "");
    stopClaim();
    claimTries = 0;
    askClaim(code);
  }

  function askClaim(code) {
    var run = claimRun;
    clearTimeout(claimTimer);
    claimTries += 1;
    byId("canjear").disabled = true;
    byId("canje-ahora").disabled = true;
    byId("canje-cuenta").textContent = "Consultando…";
    if (byId("canje-espera").hidden) say("Consultando tu pago…", "info");
    var body = { codigo_canje: code, conexion_automatica: Boolean(hotspot.mac) };
    if (hotspot.mac) body.mac_cliente = hotspot.mac;
    if (hotspot.ip) body.ip_cliente = hotspot.ip;
    api("POST", "/api/v1/payments/canjear", body, {}, 70000).then(function (answer) {
      if (run === claimRun) claimAnswered(code, answer);
    }, function () {
      if (run === claimRun) claimLater(code, "No pudimos conectar con el servidor de pagos. Volvemos a intentar en unos segundos.");
    });
  }

  var claimEnded = {
    referencia_expirada: "La referencia venció sin que recibiéramos tu pago. No se hizo ningún cargo; puedes comprar de nuevo.",
    pago_reembolsado: "No pudimos activar tu acceso y tu pago fue reembolsado.",
    acceso_revocado: "Este pago fue reembolsado o desconocido, y el acceso se desactivó.",
  };

  function claimAnswered(code, answer) {
    var codigo = codigoOf(answer);
    byId("canjear").disabled = false;
    byId("canje-ahora").disabled = false;
    if (answer.status === 200 && answer.data && answer.data.success) {
      dropClaim(code);
      remember(RECEIPT, answer.data);
      return showReceipt(answer.data, true);
    }
    if (answer.status === 202 && answer.data) {
      var stored = recall(CLAIM + routerId, true);
      if (!stored || stored.codigo !== code) keepClaim(termsOf(answer.data, code));
      if (answer.data.pago_recibido) {
        return claimLater(code, "Recibimos tu pago y estamos activando tu acceso. En unos segundos verás tus datos.",
          answer.retryAfter || 5);
      }
      return claimLater(code, "Aún no recibimos tu pago. Si ya pagaste, puede tardar unos minutos en acreditarse: " +
        "esta página vuelve a consultar sola. No vuelvas a pagar.");
    }
    if (answer.status === 429 && codigo !== "demasiados_intentos") {
      return claimLater(code, "Hay muchas consultas en este momento. Volvemos a intentar en unos segundos.", answer.retryAfter || 5);
    }
    if (answer.status >= 500) {
      return claimLater(code, "El servicio de pagos no respondió. Volvemos a intentar en unos segundos.", answer.retryAfter);
    }
    // A final answer for this code.
    byId("canje-espera").hidden = true;
    if (answer.status === 404) {
      dropClaim(code);
      markField("codigo-canje", "Revisa que esté bien escrito.");
      sayError("No encontramos ese código en este Wi-Fi. Revisa que esté bien escrito: 10 letras y números, por ejemplo 7KQ3M‑X9ZT2.");
    } else if (answer.status === 410) {
      dropClaim(code);
      sayError(claimEnded[codigo] || detailOf(answer, "Este código ya no se puede canjear."));
    } else if (codigo === "demasiados_intentos") {
      var minutes = Math.max(1, Math.ceil((answer.retryAfter || 600) / 60));
      sayError("Demasiados códigos incorrectos desde este dispositivo. Espera " + minutes +
        (minutes === 1 ? " minuto" : " minutos") + " e intenta de nuevo.");
    } else {
      sayError(detailOf(answer, "No se pudo consultar tu código (error " + answer.status + ")."));
    }
  }

  // Asks again after `seconds`, or with backoff (5 s, 10 s, 20 s … 60 s), counting down on
  // screen; «Consultar ahora» asks at once. After a while only the button asks.
  function claimLater(code, message, seconds) {
    var entering = byId("canje-espera").hidden;
    byId("canje-espera").hidden = false;
    byId("canje-ahora").disabled = false;
    say(message, "pendiente");
    if (entering) byId("canje-titulo").focus();
    var left = Math.max(1, Math.round(seconds || Math.min(60, 5 * Math.pow(2, Math.min(claimTries - 1, 4)))));
    var countdown = byId("canje-cuenta");
    if (claimTries >= 30) {
      countdown.textContent = "Presiona «Consultar ahora» para volver a consultar.";
      return;
    }
    var tick = function () {
      if (left <= 0) return askClaim(code);
      countdown.textContent = "Volvemos a consultar en " + left + (left === 1 ? " segundo." : " segundos.");
      left -= 1;
      claimTimer = setTimeout(tick, 1000);
    };
    tick();
  }

  function resumeClaim() {
    var claim = recall(CLAIM + routerId, true);
    if (!claim || !claim.codigo) return false;
    showInstructions(claim, false);
    return true;
  }

  function keepClaim(claim) {
    remember(CLAIM + routerId, claim, true);
  }

  function dropClaim(code) {
    var stored = recall(CLAIM + routerId, true);
    if (stored && stored.codigo === code) forget(CLAIM + routerId, true);
  }

  function leaveClaim() {
    stopClaim();
    say("", null);
    if (!resumeClaim()) showCatalogue();
  }

  // -- The receipt and the hotspot login ----------------------------------------------------------

  function showReceipt(receipt, fresh) {
    show("resultado");
    var creds = receipt.usuario_hotspot;
    var pin = receipt.tipo_usuario === "pin";
    byId("etiqueta-usuario").textContent = pin ? "PIN" : "Usuario";
    byId("cred-usuario").textContent = creds.usuario;
    byId("cred-contrasena").textContent = creds.contrasena;
    byId("fila-contrasena").hidden = pin;
    var product = receipt.producto || {};
    byId("resultado-plan").textContent = [product.nombre, product.precio != null ? money(product.precio, product.moneda) : ""]
      .filter(Boolean).join(" · ");
    var auto = receipt.auto_conexion || {};
    var connected = auto.estado === "conectado";
    var seconds = Number(settings.segundosAntesDeConectar) || 0;
    var announcement = fresh ? "Pago aprobado. Tus datos de acceso están en pantalla." : "Tus datos de acceso.";
    byId("conectar").hidden = connected || !hotspot.login;
    byId("esperar").hidden = true;
    byId("continuar").hidden = !(connected && hotspot.dst);
    if (hotspot.dst) byId("continuar").href = hotspot.dst;
    if (connected) {
      byId("conexion-texto").textContent = "Tu dispositivo ya está conectado a internet.";
    } else if (!hotspot.login) {
      byId("conexion-texto").textContent = "Para navegar, escribe estos datos en la página de acceso del Wi-Fi.";
    } else if (fresh) {
      // Announced once here; the countdown itself is not a live region (no announcement a second).
      announcement += " Te conectaremos al Wi-Fi en " + seconds + " segundos; usa «Esperar» para anotarlos con calma.";
      countdown(creds, seconds);
    } else {
      byId("conexion-texto").textContent = "Cuando quieras, conéctate con estos datos.";
    }
    say(announcement, "exito");
    byId("resultado-titulo").focus();
  }

  function countdown(creds, seconds) {
    var left = seconds;
    var text = byId("conexion-texto");
    var tick = function () {
      if (left <= 0) return login(creds);
      text.textContent = "Te conectaremos automáticamente en " + left + (left === 1 ? " segundo." : " segundos.");
      left -= 1;
      countdownTimer = setTimeout(tick, 1000);
    };
    byId("esperar").hidden = false;
    tick();
  }

  function stopCountdown() {
    clearTimeout(countdownTimer);
    byId("esperar").hidden = true;
    byId("conexion-texto").textContent = "Conexión en pausa. Cuando termines de anotar tus datos, presiona «Conectarme ahora».";
    byId("conectar").focus();
  }

  // The MikroTik hotspot login form, as the router's own login.html sends it: PAP, or CHAP
  // (md5 of chap-id, password and chap-challenge) when the router passed a challenge.
  function login(creds) {
    clearTimeout(countdownTimer);
    var password = creds.contrasena || "";
    if (hotspot.chapId && hotspot.chapChallenge) {
      var bytes = hotspot.chapId.concat(asciiBytes(password), hotspot.chapChallenge);
      password = md5Hex(bytes);
    }
    var form = document.createElement("form");
    form.method = "post";
    form.action = hotspot.login;
    form.hidden = true;
    var values = { username: creds.usuario, password: password, dst: hotspot.dst, popup: "true" };
    Object.keys(values).forEach(function (name) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = values[name] || "";
      form.appendChild(input);
    });
    document.body.appendChild(form);
    byId("esperar").hidden = true;
    byId("conexion-texto").textContent = "Conectando…";
    say("Conectando tu dispositivo al Wi-Fi…", "info");
    form.submit();
  }

  function asciiBytes(text) {
    var bytes = [];
    for (var i = 0; i < text.length; i++) bytes.push(text.charCodeAt(i) & 0xff);
    return bytes;
  }

  // MD5 (RFC 1321) over bytes, for the hotspot's CHAP login.
  var MD5_K = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
  ];
  var MD5_S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

  function md5Hex(input) {
    var bytes = input.slice();
    var bitLength = bytes.length * 8;
    bytes.push(0x80);
    while (bytes.length % 64 !== 56) bytes.push(0);
    for (var b = 0; b < 8; b++) bytes.push(b < 4 ? (bitLength >>> (8 * b)) & 0xff : 0);
    var h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    for (var offset = 0; offset < bytes.length; offset += 64) {
      var m = [];
      for (var w = 0; w < 16; w++) {
        var at = offset + w * 4;
        m.push(bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24));
      }
      var a = h[0], bb = h[1], c = h[2], d = h[3];
      for (var i = 0; i < 64; i++) {
        var f, g;
        if (i < 16) {
          f = (bb & c) | (~bb & d);
          g = i;
        } else if (i < 32) {
          f = (d & bb) | (~d & c);
          g = (5 * i + 1) % 16;
        } else if (i < 48) {
          f = bb ^ c ^ d;
          g = (3 * i + 5) % 16;
        } else {
          f = c ^ (bb | ~d);
          g = (7 * i) % 16;
        }
        var shift = MD5_S[(i >> 4) * 4 + (i % 4)];
        var sum = (a + f + MD5_K[i] + m[g]) | 0;
        a = d;
        d = c;
        c = bb;
        bb = (bb + ((sum << shift) | (sum >>> (32 - shift)))) | 0;
      }
      h[0] = (h[0] + a) | 0;
      h[1] = (h[1] + bb) | 0;
      h[2] = (h[2] + c) | 0;
      h[3] = (h[3] + d) | 0;
    }
    var hex = "";
    h.forEach(function (word) {
      for (var k = 0; k < 4; k++) hex += ("0" + ((word >>> (8 * k)) & 0xff).toString(16)).slice(-2);
    });
    return hex;
  }

  // -- Storage: a pending purchase survives a reload (sessionStorage), so it is never paid twice;
  // a claim code survives closing the page (`lasting`: localStorage) --------------------------------

  function remember(name, data, lasting) {
    try {
      (lasting ? localStorage : sessionStorage).setItem(name, JSON.stringify(data));
    } catch (e) {
      /* private mode: the page still works, without surviving a reload */
    }
  }

  function recall(name, lasting) {
    try {
      return JSON.parse((lasting ? localStorage : sessionStorage).getItem(name) || "null");
    } catch (e) {
      return null;
    }
  }

  function forget(name, lasting) {
    try {
      (lasting ? localStorage : sessionStorage).removeItem(name);
    } catch (e) {
      /* nothing stored */
    }
  }

  function clearCard() {
    ["tarjeta-numero", "tarjeta-cvc"].forEach(function (id) {
      byId(id).value = "";
    });
  }

  function buyAgain() {
    forget(RECEIPT);
    clearTimeout(countdownTimer);
    say("", null);
    showCatalogue();
    busy(false);
    byId("nombre").focus();
  }

  byId("compra").addEventListener("submit", onSubmit);
  byId("consultar").addEventListener("click", function () {
    var pending = recall(PENDING);
    if (pending) send(pending);
  });
  byId("conectar").addEventListener("click", function () {
    var receipt = recall(RECEIPT);
    if (receipt) login(receipt.usuario_hotspot);
  });
  byId("esperar").addEventListener("click", stopCountdown);
  byId("otro").addEventListener("click", buyAgain);
  Array.prototype.forEach.call(document.querySelectorAll('input[name="metodo"]'), function (input) {
    input.addEventListener("change", updateMethod);
  });
  Array.prototype.forEach.call(document.querySelectorAll("button.copiar"), function (button) {
    button.addEventListener("click", function () {
      copy(button);
    });
  });
  byId("ya-pague").addEventListener("click", function () {
    openClaim(byId("pago-codigo").textContent);
  });
  byId("otro-plan").addEventListener("click", function () {
    say("", null);
    showCatalogue();
    busy(false);
    byId("nombre").focus();
  });
  byId("tengo-codigo").addEventListener("click", function () {
    openClaim("");
  });
  byId("form-canje").addEventListener("submit", submitClaim);
  byId("canje-ahora").addEventListener("click", function () {
    var code = formatCode(byId("codigo-canje").value);
    if (code) askClaim(code);
  });
  byId("canje-volver").addEventListener("click", leaveClaim);
  // Exposed for the tests of the CHAP login (the same function the page uses).
  window.hotspotPortal = { md5Hex: md5Hex };
  start();
})();
