// Shortened ids (audit log, break-the-glass report): a button shows the first characters of a
// UUID; clicking it copies the whole id to the clipboard and says so. Without JavaScript, or
// without clipboard access, the full id is still in the button's title and accessible name.
(function () {
  "use strict";
  function copied(button, text) {
    var status = button.querySelector(".copy-id-status");
    if (status) {
      status.textContent = text;
      window.setTimeout(function () { status.textContent = ""; }, 2000);
    }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.copy-id") : null;
    if (!button) {
      return;
    }
    var value = button.getAttribute("data-copy") || "";
    if (!navigator.clipboard || !navigator.clipboard.writeText) {
      copied(button, " (select and copy: " + value + ")");
      return;
    }
    navigator.clipboard.writeText(value).then(
      function () { copied(button, " copied"); },
      function () { copied(button, " (copy failed)"); }
    );
  });
})();
