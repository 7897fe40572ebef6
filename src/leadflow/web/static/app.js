/* leadflow web app behaviour. No inline scripts anywhere (strict CSP): everything is wired from here. */
(function () {
  "use strict";

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  // Every HTMX request carries the session's CSRF token in a header.
  document.addEventListener("htmx:configRequest", function (evt) {
    evt.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // ---------------------------------------------------------------- SLA countdowns (data-due = ISO time)
  function fmt(seconds) {
    var s = Math.abs(Math.round(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var ss = (sec < 10 ? "0" : "") + sec + "s";
    var out = d > 0 ? d + "d " + h + "h " + m + "m" : h > 0 ? h + "h " + m + "m " + ss : m + "m " + ss;
    return seconds < 0 ? "overdue " + out : out;
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) { return; }
      var left = (due - now) / 1000;
      el.textContent = fmt(left);
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 3600);
    });
  }
  setInterval(tick, 1000);

  // ---------------------------------------------------------------- charts (data-chart = Chart.js config JSON)
  var palette = ["#1f5fbf", "#c2410c", "#1d7a46", "#7c3aed", "#b7791f", "#0e7490", "#be185d", "#4b5563"];
  function initCharts(root) {
    if (typeof window.Chart === "undefined") { return; }
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (el) {
      if (el.dataset.ready) { return; }
      var cfg;
      try { cfg = JSON.parse(el.getAttribute("data-chart")); } catch (e) { return; }
      el.dataset.ready = "1";
      (cfg.data && cfg.data.datasets || []).forEach(function (ds, i) {
        var c = ds.color || palette[i % palette.length];
        delete ds.color;
        if (!ds.borderColor) { ds.borderColor = c; }
        if (!ds.backgroundColor) { ds.backgroundColor = cfg.type === "line" ? c + "33" : c; }
      });
      cfg.options = cfg.options || {};
      cfg.options.responsive = true;
      cfg.options.maintainAspectRatio = false;
      cfg.options.animation = false;
      new window.Chart(el, cfg);
    });
  }

  // ---------------------------------------------------------------- confirm buttons (data-confirm)
  document.addEventListener("submit", function (evt) {
    var btn = evt.submitter;
    var msg = (btn && btn.getAttribute("data-confirm")) || evt.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { evt.preventDefault(); }
  });

  // date-range forms (data-range-form): typing a date switches the period to "custom"; choosing a preset
  // empties the dates, so the URL keeps the preset (relative: "last 30 days" stays the last 30 days)
  function rangeDateEdited(evt) {
    var el = evt.target;
    if (!(el.matches && el.matches("form[data-range-form] input[type=date]"))) { return; }
    var sel = el.form.querySelector("select[name=range]");
    if (sel && sel.value !== "custom") { sel.value = "custom"; }
  }
  document.addEventListener("input", rangeDateEdited);

  // filters: changing a select submits the filter form (keyboard users can also press the button)
  document.addEventListener("change", function (evt) {
    var el = evt.target;
    rangeDateEdited(evt);
    if (el.matches && el.matches("form[data-autosubmit] select")) {
      if (el.name === "range" && el.value !== "custom" && el.form.hasAttribute("data-range-form")) {
        el.form.querySelectorAll("input[type=date]").forEach(function (d) { d.value = ""; });
      }
      if (el.form.requestSubmit) { el.form.requestSubmit(); } else { el.form.submit(); }
    }
  });

  // inside [data-swap-errors], a 400 / 422 answer is a page to show (the refused field explained inline),
  // not an error to drop
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var d = evt.detail, status = d.xhr && d.xhr.status;
    if ((status === 400 || status === 422) && d.elt && d.elt.closest && d.elt.closest("[data-swap-errors]")) {
      d.shouldSwap = true;
      d.isError = false;
    }
  });

  function ready() { initCharts(document); tick(); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", ready); } else { ready(); }
  document.addEventListener("htmx:afterSettle", function (evt) { initCharts(evt.target); tick(); });
})();
