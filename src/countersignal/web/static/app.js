// Review UI behaviour: reveal blurred media on request, SLA countdowns, keyboard shortcuts.
(function () {
  "use strict";

  function revealAll(on) {
    document.querySelectorAll(".media").forEach(function (m) {
      // The page only ever holds a server-blurred preview; the real pixels load on reveal.
      m.querySelectorAll("img[data-full]").forEach(function (img) {
        if (on && img.src.indexOf(img.dataset.full) < 0) img.src = img.dataset.full;
      });
      m.classList.toggle("revealed", on);
      var button = m.querySelector("button.reveal");
      if (button) button.setAttribute("aria-pressed", on ? "true" : "false");
    });
    var flag = document.querySelector("input[name=revealed]");
    if (flag && on) flag.value = "1";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Math.round((Date.parse(el.dataset.deadline) - now) / 1000);
      var sign = left < 0 ? "-" : "";
      var s = Math.abs(left);
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      el.textContent = sign + (h ? h + "h " : "") + m + "m " + (h ? "" : sec + "s");
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 900);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button.reveal").forEach(function (b) {
      b.addEventListener("click", function () { revealAll(true); });
    });
    tick();
    setInterval(tick, 1000);

    var form = document.querySelector("form.decide");
    document.addEventListener("keydown", function (ev) {
      var tag = (ev.target.tagName || "").toLowerCase();
      if (tag === "textarea" || tag === "input" || tag === "select" || ev.ctrlKey || ev.metaKey) {
        return;
      }
      if (ev.key === "v") { revealAll(true); ev.preventDefault(); return; }
      if (!form) return;
      var option = form.querySelector("[data-key='" + ev.key + "']");
      if (option) {
        option.checked = true;
        option.dispatchEvent(new Event("change", { bubbles: true }));
        var explanation = form.querySelector("textarea[name=explanation]");
        if (explanation) explanation.focus();
        ev.preventDefault();
      }
    });
  });
})();
