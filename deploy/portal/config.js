// The payment page's settings: the one file an operator edits (README, "Portal").
// The test and demo stacks render a copy pointing at the sandbox (scripts/render_portal.py).
window.HOTSPOT_PORTAL_CONFIG = {
  // hotspot-pay's address. Empty: the server that serves this page (nginx's /portal/).
  // A page hosted elsewhere (on the router) names it, e.g. "https://pay.example.com", and that
  // page's origin must be in nginx's CORS allow-list.
  apiBase: "",

  // Conekta.js. The real library in production; the sandbox's stand-in in tests.
  conektaJsUrl: "https://cdn.conekta.io/js/latest/conekta.js",

  // The router's API key (jwt_…) when the page is not opened with one in its address (#k=…).
  apiKey: "",

  // "usuario_contrasena" (user and password) or "pin"; login.html may choose per router (#tipo=…).
  tipoUsuario: "usuario_contrasena",

  // Seconds the credentials stay on screen before the page logs the device in to the hotspot.
  segundosAntesDeConectar: 10,

  // Hosts the page may send the hotspot login form to (the routers' hotspot addresses, e.g.
  // "10.5.50.1" or "hotspot.cafe.example"). Empty: any http(s) address the hotspot passes.
  hostsDeLogin: [],
};
