// The calendar's pointer and keyboard helpers (scheduling/templates/scheduling/calendar.html).
// No inline script (CSP): colours come from data-colour and are set through the CSSOM; a drag
// posts the same move endpoint as the appointment page's form (with the CSRF token and the
// version the page read) and the result is announced in the aria-live region. Without this
// file every appointment is still a link to its page, where the move form is the keyboard path.
(function () {
  "use strict";
  var HEX = /^#[0-9a-fA-F]{6}$/;
  document.querySelectorAll("[data-colour]").forEach(function (el) {
    var c = el.getAttribute("data-colour");
    if (!HEX.test(c)) return;
    if (el.classList.contains("cal-swatch")) el.style.backgroundColor = c;
    else el.style.borderLeftColor = c;
  });
  var grid = document.querySelector(".cal-grid");
  if (!grid) return;
  var live = document.getElementById("cal-live");
  var csrf = document.querySelector("input[name=csrfmiddlewaretoken]");
  var STEP = parseInt(grid.getAttribute("data-row-minutes"), 10) || 15;

  function rowHeight() {
    var cell = grid.querySelector(".cal-cell");
    return cell ? cell.getBoundingClientRect().height / 2 : 14;
  }
  function hhmm(total) {
    total = Math.max(0, Math.min(24 * 60 - STEP, total));
    var h = Math.floor(total / 60), m = total % 60;
    return (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m;
  }
  function minutesOf(text) {
    var p = (text || "0:0").split(":");
    return parseInt(p[0], 10) * 60 + parseInt(p[1], 10);
  }
  function say(text) { if (live) live.textContent = text; }

  function post(block, date, time, minutes, clinician) {
    var body = new URLSearchParams();
    body.set("version", block.getAttribute("data-version"));
    body.set("date", date);
    body.set("time", time);
    body.set("minutes", String(minutes));
    body.set("clinician", clinician);
    body.set("scope", "one");
    say("Moving…");
    return fetch(block.getAttribute("data-move-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": csrf ? csrf.value : "" },
      body: body
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, data: data }; });
    }).then(function (res) {
      say(res.data.message || (res.ok ? "Moved." : "Not moved."));
      if (res.ok) window.setTimeout(function () { window.location.reload(); }, 600);
      else block.style.transform = "";
      return res.ok;
    }).catch(function () { block.style.transform = ""; say("Not moved: the connection failed."); });
  }

  var drag = null, justDragged = false;
  // An appointment is a link, and a browser drags links natively (which cancels the pointer
  // events below): the calendar's own drag replaces that.
  grid.addEventListener("dragstart", function (e) {
    if (e.target.closest && e.target.closest(".cal-appt")) e.preventDefault();
  });
  grid.addEventListener("pointerdown", function (e) {
    var block = e.target.closest(".cal-appt");
    if (!block || !block.getAttribute("data-move-url") || e.button !== 0) return;
    drag = { block: block, x: e.clientX, y: e.clientY, resize: e.target.classList.contains("cal-resize"), moved: false, rows: 0 };
  });
  document.addEventListener("pointermove", function (e) {
    if (!drag) return;
    var dy = e.clientY - drag.y, dx = e.clientX - drag.x;
    if (!drag.moved && Math.abs(dy) < 5 && Math.abs(dx) < 5) return;
    if (!drag.moved) { drag.moved = true; drag.block.classList.add("cal-dragging"); drag.block.setPointerCapture && drag.block.setPointerCapture(e.pointerId); }
    drag.rows = Math.round(dy / rowHeight());
    if (drag.resize) drag.block.style.transform = "scaleY(" + Math.max(0.2, 1 + dy / drag.block.getBoundingClientRect().height) + ")";
    else drag.block.style.transform = "translate(" + dx + "px," + drag.rows * rowHeight() + "px)";
  });
  document.addEventListener("pointerup", function (e) {
    if (!drag) return;
    var d = drag; drag = null;
    if (!d.moved) return;
    justDragged = true;
    d.block.classList.remove("cal-dragging");
    var start = minutesOf(d.block.getAttribute("data-start"));
    var length = parseInt(d.block.getAttribute("data-minutes"), 10);
    var col = d.block.closest(".cal-col"), date = col.getAttribute("data-date");
    var clinician = d.block.getAttribute("data-clinician");
    if (d.resize) {
      length = Math.max(STEP, length + d.rows * STEP);
    } else {
      start += d.rows * STEP;
      d.block.style.visibility = "hidden";
      var under = document.elementFromPoint(e.clientX, e.clientY);
      d.block.style.visibility = "";
      var target = under && under.closest(".cal-col");
      if (target) {
        date = target.getAttribute("data-date");
        clinician = target.getAttribute("data-clinician") || clinician;
      }
    }
    post(d.block, date, hhmm(start), length, clinician);
  });
  grid.addEventListener("click", function (e) {
    if (justDragged && e.target.closest(".cal-appt")) { e.preventDefault(); }
    justDragged = false;
  }, true);

  // Keyboard: Alt+ArrowUp / Alt+ArrowDown move a focused appointment by 15 minutes.
  grid.addEventListener("keydown", function (e) {
    var block = e.target.closest && e.target.closest(".cal-appt");
    if (!block || !e.altKey || (e.key !== "ArrowUp" && e.key !== "ArrowDown")) return;
    e.preventDefault();
    var start = minutesOf(block.getAttribute("data-start")) + (e.key === "ArrowUp" ? -STEP : STEP);
    post(block, block.closest(".cal-col").getAttribute("data-date"), hhmm(start),
         parseInt(block.getAttribute("data-minutes"), 10), block.getAttribute("data-clinician"));
  });
})();
