/* leadflow snippet demo page: keeps the form on the page and wires the consent buttons. */
(function (d) {
  "use strict";
  function lf() { if (window.leadflow) window.leadflow.apply(null, arguments); }
  var form = d.getElementById("demo-form");
  form.addEventListener("submit", function (e) {
    e.preventDefault(); // the snippet has already captured the submission (capture phase)
    d.getElementById("thanks").hidden = false;
    form.hidden = true;
  });
  var yes = d.getElementById("consent-yes"), no = d.getElementById("consent-no");
  if (yes) yes.addEventListener("click", function () { lf("consent", true); d.getElementById("consent-box").hidden = true; });
  if (no) no.addEventListener("click", function () { lf("consent", false); d.getElementById("consent-box").hidden = true; });
})(document);
