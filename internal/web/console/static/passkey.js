// Passkeys in the console (WebAuthn Level 3): adding one on the account
// page, and signing in with one on the second step. The browser's own
// JSON helpers turn the server's options into a ceremony and the result
// back into JSON; the server (admin/passkeys.go) checks everything.
// Without WebAuthn in the browser the passkey parts stay hidden.
(function () {
  "use strict";

  var supported = window.PublicKeyCredential &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  // post sends JSON and returns the JSON answer, or throws its error.
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          throw new Error(data.error || "The server answered " + r.status + ".");
        }
        return data;
      });
    });
  }

  function say(el, msg) {
    el.textContent = msg;
    el.hidden = !msg;
  }

  // The browser's own refusals (cancelled, timed out) in plain words.
  function plain(err) {
    if (err && err.name === "NotAllowedError") {
      return "The passkey was not used (cancelled, or it took too long). Try again.";
    }
    if (err && err.name === "InvalidStateError") {
      return "This device holds one of your passkeys already.";
    }
    return (err && err.message) || "That did not work. Try again.";
  }

  var add = document.getElementById("passkey-add");
  if (add && supported) {
    add.hidden = false;
    var addStatus = document.getElementById("passkey-add-status");
    add.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var name = add.querySelector("[name=name]").value.trim();
      var button = add.querySelector("button[type=submit]");
      button.disabled = true;
      say(addStatus, "");
      post("/console/account/passkeys/begin").then(function (begin) {
        var publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(begin.publicKey);
        return navigator.credentials.create({ publicKey: publicKey }).then(function (cred) {
          return post("/console/account/passkeys", { id: begin.id, name: name, credential: cred.toJSON() });
        });
      }).then(function (done) {
        window.location.assign(done.redirect);
      }).catch(function (err) {
        say(addStatus, plain(err));
        button.disabled = false;
      });
    });
  }

  var box = document.getElementById("passkey-signin");
  if (box && supported) {
    box.hidden = false;
    var use = document.getElementById("passkey-use");
    var status = document.getElementById("passkey-status");
    use.addEventListener("click", function () {
      use.disabled = true;
      say(status, "");
      post("/console/login/passkey/begin").then(function (begin) {
        var publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(begin.publicKey);
        return navigator.credentials.get({ publicKey: publicKey });
      }).then(function (cred) {
        return post("/console/login/passkey", { credential: cred.toJSON(), next: use.getAttribute("data-next") });
      }).then(function (done) {
        window.location.assign(done.redirect);
      }).catch(function (err) {
        say(status, plain(err));
        use.disabled = false;
      });
    });
  }
})();
