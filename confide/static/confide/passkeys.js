// Passkeys in the patient portal: adding one (portal/passkeys.html) and signing in with one
// (portal/signin.html, portal/mfa_verify.html). Each part is a <section data-passkey="register"
// or "signin"> that stays hidden unless this browser can use passkeys; the pages work without
// it. The server (accounts/passkeys.py) sends options as JSON with binary values in base64url,
// and reads the browser's answer in the same form. No inline script: CSP.
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function supported() {
    return Boolean(window.isSecureContext && window.PublicKeyCredential && navigator.credentials &&
      navigator.credentials.create && navigator.credentials.get);
  }

  // A message from the server, already in plain words.
  function ServerError(message) {
    this.name = "ServerError";
    this.message = message;
  }

  function postJSON(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          throw new ServerError(data.error || "Something went wrong. Please reload the page and try again.");
        }
        return data;
      });
    });
  }

  function explain(error) {
    if (error instanceof ServerError) return error.message;
    var name = error && error.name;
    if (name === "NotAllowedError") return "The passkey step was cancelled or took too long. You can try again.";
    if (name === "InvalidStateError") return "This device already has a passkey for your account.";
    if (name === "SecurityError") return "Passkeys cannot be used on this address. Please use the portal's usual address.";
    if (name === "TypeError" && !navigator.onLine) return "You seem to be offline. Check your connection and try again.";
    return "Your passkey could not be used. Please try again, or sign in with your email and password.";
  }

  function creationOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    (options.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return options;
  }

  function requestOptions(options) {
    options.challenge = toBytes(options.challenge);
    (options.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return options;
  }

  function common(credential) {
    var json = { id: credential.id, rawId: toText(credential.rawId), type: credential.type };
    json.clientExtensionResults = credential.getClientExtensionResults ? credential.getClientExtensionResults() : {};
    if (credential.authenticatorAttachment) json.authenticatorAttachment = credential.authenticatorAttachment;
    return json;
  }

  function registrationJSON(credential) {
    var json = common(credential);
    var response = credential.response;
    json.response = {
      clientDataJSON: toText(response.clientDataJSON),
      attestationObject: toText(response.attestationObject),
      transports: response.getTransports ? response.getTransports() : [],
    };
    return json;
  }

  function assertionJSON(credential) {
    var json = common(credential);
    var response = credential.response;
    json.response = {
      clientDataJSON: toText(response.clientDataJSON),
      authenticatorData: toText(response.authenticatorData),
      signature: toText(response.signature),
      userHandle: toText(response.userHandle),
    };
    return json;
  }

  function setUp(section) {
    var button = section.querySelector("[data-passkey-start]");
    var status = section.querySelector("[data-passkey-status]");
    var csrf = section.dataset.csrf;
    var register = section.dataset.passkey === "register";

    function say(text) { status.textContent = text; }

    button.addEventListener("click", function () {
      button.disabled = true;
      say(register ? "Follow the steps on your device to make a passkey…" : "Follow the steps on your device…");
      postJSON(section.dataset.optionsUrl, csrf, {})
        .then(function (options) {
          if (register) return navigator.credentials.create({ publicKey: creationOptions(options) });
          return navigator.credentials.get({ publicKey: requestOptions(options) });
        })
        .then(function (credential) {
          if (!credential) throw new Error("no credential");
          say("Checking…");
          if (register) {
            var name = section.querySelector("[data-passkey-name]");
            return postJSON(section.dataset.verifyUrl, csrf, { credential: registrationJSON(credential), name: name ? name.value : "" });
          }
          return postJSON(section.dataset.verifyUrl, csrf, { credential: assertionJSON(credential), next: section.dataset.next || "" });
        })
        .then(function (result) {
          say(register ? "Passkey added." : "Signed in. Opening your portal…");
          window.location.assign(result.redirect);
        })
        .catch(function (error) {
          say(explain(error));
          button.disabled = false;
        });
    });

    section.hidden = false;
    var fallback = document.querySelector("[data-passkey-unsupported]");
    if (fallback) fallback.hidden = true;
  }

  function start() {
    if (!supported()) return;
    document.querySelectorAll("[data-passkey]").forEach(setUp);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
