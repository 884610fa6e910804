// The staff inbox (messaging/inbox.html, messaging/thread.html): keyboard shortcuts and
// inserting a message template into the reply. No inline script (CSP); everything works
// without this file too (the links, the forms, the template text can be typed).
//   j / k  next / previous conversation (the list) or message (a conversation)
//   r      focus the reply box            a  assign the conversation to me
//   ?      show or hide the shortcut help
// Never while typing: a key pressed in a field, or with Ctrl/Alt/Meta, is the field's.
(function () {
  "use strict";

  function typing(event) {
    var el = event.target;
    if (!el || el === document.body) return false;
    var tag = (el.tagName || "").toLowerCase();
    return el.isContentEditable || tag === "input" || tag === "textarea" || tag === "select";
  }

  function move(step) {
    var items = Array.prototype.slice.call(document.querySelectorAll(".inbox-thread-link, .inbox-message"));
    if (!items.length) return;
    var at = items.indexOf(document.activeElement);
    var next = at === -1 ? (step > 0 ? 0 : items.length - 1) : Math.min(items.length - 1, Math.max(0, at + step));
    items[next].focus();
    items[next].scrollIntoView({ block: "nearest" });
  }

  function onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || typing(event)) return;
    var help = document.getElementById("shortcut-help");
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "r": {
        var reply = document.getElementById("reply-body");
        if (!reply) return;
        reply.focus();
        break;
      }
      case "a": {
        var form = document.getElementById("assign-me-form");
        if (!form) return;
        form.submit();
        break;
      }
      case "?": {
        if (!help) return;
        help.open = !help.open;
        if (help.open) help.querySelector("summary").focus();
        break;
      }
      default: return;
    }
    event.preventDefault();
  }

  function initTemplates() {
    var picker = document.getElementById("reply-template");
    var button = document.getElementById("insert-template");
    var reply = document.getElementById("reply-body");
    if (!picker || !button || !reply) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var option = picker.options[picker.selectedIndex];
      var text = option && option.getAttribute("data-body");
      if (!text) return;
      var start = reply.selectionStart, end = reply.selectionEnd, value = reply.value;
      if (typeof start === "number" && document.activeElement === reply) {
        reply.value = value.slice(0, start) + text + value.slice(end);
      } else {
        reply.value = value ? value.replace(/\s*$/, "") + "\n" + text : text;
      }
      reply.focus();
    });
  }

  function init() {
    document.addEventListener("keydown", onKey);
    initTemplates();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
