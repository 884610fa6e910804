// Copy, download and print the recovery codes on accounts/recovery_codes.html (loaded with defer;
// no inline script under the CSP). The codes exist in clear only on that page: the server keeps
// keyed hashes and cannot show them again without making new ones, so the text file is built
// here, from the page, as a Blob; nothing is asked of the server.
(function () {
  "use strict";
  var list = document.querySelector("[data-recovery-codes]");
  if (!list) return;
  var status = document.getElementById("recovery-codes-status");

  function codes() {
    return Array.prototype.map.call(list.querySelectorAll("li"), function (item) {
      return item.textContent.trim();
    });
  }

  function fileText() {
    return [list.dataset.title, list.dataset.note, ""].concat(codes()).join("\r\n") + "\r\n";
  }

  function say(message) {
    status.textContent = "";
    // A fresh text node each time, so screen readers announce a repeated message too.
    window.setTimeout(function () { status.textContent = message; }, 50);
  }

  function selectCodes() {
    var range = document.createRange();
    range.selectNodeContents(list);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  var actions = {
    copy: function () {
      var text = codes().join("\n");
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { say("Copied " + codes().length + " codes. Paste them into your password manager."); },
          function () { selectCodes(); say("Copying was not allowed: the codes are selected, press Ctrl+C (or ⌘C) to copy them."); }
        );
      } else {
        selectCodes();
        say("The codes are selected: press Ctrl+C (or ⌘C) to copy them.");
      }
    },
    download: function () {
      var url = URL.createObjectURL(new Blob([fileText()], { type: "text/plain;charset=utf-8" }));
      var link = document.createElement("a");
      link.href = url;
      link.download = list.dataset.filename || "confide-recovery-codes.txt";
      document.body.appendChild(link);
      link.click();
      link.remove();
      window.setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
      say("Downloaded " + link.download + ". Keep it somewhere safe, away from this computer if you can.");
    },
    print: function () {
      window.print();
    }
  };

  document.querySelectorAll("[data-codes-action]").forEach(function (button) {
    var action = actions[button.dataset.codesAction];
    if (!action) return;
    button.hidden = false;  // shown only where the script runs: no button that does nothing
    button.addEventListener("click", action);
  });
})();
