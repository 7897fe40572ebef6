/*! leadflow t.js 1.0 | first-party page and form tracking, no dependencies | docs/snippet.md */
(function (w, d) {
  "use strict";
  if (w.__leadflow) return;
  w.__leadflow = 1;
  var VERSION = "1.0.0", AID = "lf_aid", CONSENT = "lf_consent", YEAR = 31536000;
  var s = d.currentScript || d.querySelector("script[data-key][src*='t.js']");
  if (!s) return;
  function attr(n) { return s.getAttribute("data-" + n); }
  var key = attr("key") || "";
  var api = (attr("api") || s.src.replace(/\/t\.js([?#].*)?$/, "")).replace(/\/+$/, "");
  var needConsent = s.hasAttribute("data-require-consent");
  var forms = s.hasAttribute("data-capture-forms") && attr("capture-forms") !== "false";
  var domain = attr("cookie-domain");
  var nav = w.navigator, loc = w.location;

  function dnt() {
    return nav.doNotTrack === "1" || nav.doNotTrack === "yes" || w.doNotTrack === "1" ||
      nav.msDoNotTrack === "1" || nav.globalPrivacyControl === true;
  }
  function getCookie(n) {
    var m = d.cookie.match(new RegExp("(?:^|; )" + n + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function setCookie(n, v, maxAge) {
    d.cookie = n + "=" + encodeURIComponent(v) + "; path=/; max-age=" + maxAge + "; SameSite=Lax" +
      (loc.protocol === "https:" ? "; Secure" : "") + (domain ? "; domain=" + domain : "");
  }
  function uuid() {
    var b = new Uint8Array(16), h = "";
    w.crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    for (var i = 0; i < 16; i++) h += (b[i] + 256).toString(16).slice(1) + ([3, 5, 7, 9].indexOf(i) >= 0 ? "-" : "");
    return h;
  }
  var stored = getCookie(CONSENT);
  var consent = needConsent ? stored === "1" : stored !== "0";
  function allowed() { return !!key && consent && !dnt(); }
  function aid() {
    var a = getCookie(AID);
    if (!a || a.length > 100) a = uuid();
    setCookie(AID, a, 2 * YEAR); // first-party, refreshed on each visit
    return a;
  }
  function campaign() {
    var q = new URLSearchParams(loc.search), c = {}, map = { source: "utm_source", medium: "utm_medium",
      name: "utm_campaign", term: "utm_term", content: "utm_content" };
    for (var k in map) { var v = q.get(map[k]); if (v) c[k] = v.slice(0, 200); }
    return c;
  }
  function pageInfo() {
    return { url: loc.href, path: loc.pathname, search: loc.search, title: d.title, referrer: d.referrer };
  }
  function msg(type, extra) {
    var now = new Date().toISOString(), m = {
      type: type, anonymousId: aid(), messageId: uuid(), timestamp: now, sentAt: now, writeKey: key,
      context: { library: { name: "leadflow.js", version: VERSION }, page: pageInfo(), campaign: campaign(),
                 userAgent: nav.userAgent, locale: nav.language }
    };
    for (var k in extra) if (extra[k] !== undefined) m[k] = extra[k];
    return m;
  }
  function send(path, body, beacon) {
    var data = JSON.stringify(body), url = api + path;
    // text/plain keeps the request "simple" (no CORS preflight); the server reads it as JSON
    if (beacon && nav.sendBeacon) {
      try { if (nav.sendBeacon(url, new Blob([data], { type: "text/plain" }))) return; } catch (e) { /* fall back */ }
    }
    try {
      w.fetch(url, { method: "POST", body: data, keepalive: true, credentials: "omit", mode: "cors",
                     headers: { "Content-Type": "text/plain" } })["catch"](function () {});
    } catch (e) { /* never break the host page */ }
  }

  // ---- page views and time on page
  var pageId = null, shown = d.visibilityState === "visible" ? Date.now() : null, spent = 0;
  function page(name, props) {
    if (!allowed()) return;
    var p = pageInfo();
    for (var k in props || {}) p[k] = props[k];
    pageId = uuid();
    spent = 0; shown = d.visibilityState === "visible" ? Date.now() : null;
    send("/v1/page", msg("page", { name: name || undefined, properties: p }));
  }
  function flushTime() {
    if (shown) { spent += Date.now() - shown; shown = null; }
    if (!pageId || !allowed() || spent < 1000) return;
    var secs = Math.round(spent / 1000);
    spent = 0;
    send("/v1/track", msg("track", { event: "Time On Page",
      properties: { url: loc.href, seconds_on_page: secs, page_view_id: pageId } }), true);
  }
  d.addEventListener("visibilitychange", function () {
    if (d.visibilityState === "hidden") flushTime(); else shown = Date.now();
  });
  w.addEventListener("pagehide", flushTime);

  // ---- calls
  function track(event, props) {
    if (allowed() && event) send("/v1/track", msg("track", { event: String(event), properties: props || {} }));
  }
  function identify(email, traits) {
    if (!allowed() || !email) return;
    var t = {};
    for (var k in traits || {}) t[k] = traits[k];
    t.email = email;
    send("/v1/identify", msg("identify", { userId: email, traits: t }));
  }
  function setConsent(v) {
    var was = allowed();
    consent = !!v;
    if (consent) {
      setCookie(CONSENT, "1", YEAR);
      if (!was && allowed() && !pageId) page();
    } else {
      var gone = "=; path=/; max-age=0" + (domain ? "; domain=" + domain : "");
      d.cookie = AID + gone;
      if (needConsent) d.cookie = CONSENT + gone; else setCookie(CONSENT, "0", YEAR); // remember an opt-out
      pageId = null;
    }
  }

  // ---- optional form capture: a submitted form with an email identifies the visitor
  var FIELDS = { firstName: /^(first[_-]?name|fname|given[_-]?name)$/i, lastName: /^(last[_-]?name|lname|surname)$/i,
                 company: /^(company|organi[sz]ation)$/i, title: /^(title|job[_-]?title)$/i, phone: /^(phone|tel)$/i };
  var EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
  function onSubmit(e) {
    var f = e.target;
    if (!forms || !allowed() || !f || f.tagName !== "FORM" || f.hasAttribute("data-leadflow-ignore")) return;
    var input = f.querySelector("input[type=email]") || f.querySelector("input[name*=email i]");
    var email = input && String(input.value || "").trim();
    if (!email || email.length > 254 || !EMAIL.test(email)) return;
    var traits = { email: email };
    for (var i = 0; i < f.elements.length; i++) {
      var el = f.elements[i], n = el.name || el.id || "";
      if (!n || el.type === "password" || el.type === "hidden") continue;
      for (var k in FIELDS) if (FIELDS[k].test(n) && el.value) traits[k] = String(el.value).trim().slice(0, 200);
    }
    var name = f.getAttribute("name") || f.id || f.getAttribute("action") || "form";
    send("/v1/batch", { writeKey: key, batch: [
      msg("identify", { userId: email, traits: traits }),
      msg("track", { userId: email, event: "Form Submitted", properties: { form: name, url: loc.href } })
    ] }, true);
  }
  d.addEventListener("submit", onSubmit, true);

  // ---- public API: leadflow('page' | 'track' | 'identify' | 'consent', ...); calls queued before load run now
  var calls = { page: page, track: track, identify: identify, consent: setConsent,
                anonymousId: function () { return allowed() ? aid() : null; } };
  var queued = (w.leadflow && w.leadflow.q) || [];
  function leadflow(cmd) {
    var f = calls[cmd];
    return f ? f.apply(null, [].slice.call(arguments, 1)) : undefined;
  }
  leadflow.version = VERSION;
  w.leadflow = leadflow;
  for (var q = 0; q < queued.length; q++) leadflow.apply(null, queued[q]);
  if (!pageId) page();
})(window, document);
