// The header's menu on narrow screens (below Bootstrap's md breakpoint, 768 px): folded behind
// a real <button aria-expanded>. Bootstrap's CSS does the showing and hiding (.collapse/.show);
// its JavaScript is not vendored. Without this script the button stays hidden and the menu open.
(function () {
  "use strict";
  function init() {
    var button = document.querySelector(".site-menu-toggle");
    var menu = button && document.getElementById(button.getAttribute("aria-controls"));
    if (!menu) return;
    function set(open) {
      menu.classList.toggle("show", open);
      button.setAttribute("aria-expanded", open ? "true" : "false");
    }
    menu.classList.add("collapse");
    button.hidden = false;
    set(false);
    button.addEventListener("click", function () {
      set(button.getAttribute("aria-expanded") !== "true");
    });
    menu.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true" && button.offsetParent !== null) {
        set(false);
        button.focus();
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
