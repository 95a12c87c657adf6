// iamd console: WebAuthn ceremonies (passkeys and security keys). The policy editor has its own
// script (policy_editor.js); no other script runs here.
"use strict";

(function () {
  function meta(name) {
    const el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : "";
  }
  function toBytes(b64url) {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((b64url.length + 3) % 4);
    const raw = atob(b64);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out.buffer;
  }
  function toB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let raw = "";
    for (let i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  async function post(url, body) {
    const answer = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": meta("csrf-token") },
      body: JSON.stringify(body || {}),
    });
    const data = await answer.json().catch(function () { return {}; });
    if (!answer.ok) throw new Error(data.error || "The request failed (" + answer.status + ").");
    return data;
  }
  function showError(message) {
    const el = document.getElementById("webauthn-error");
    if (el) { el.textContent = message; el.hidden = false; }
  }
  function credentialJSON(cred) {
    const out = { id: cred.id, rawId: toB64url(cred.rawId), type: cred.type, response: {},
                  clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {} };
    const r = cred.response;
    out.response.clientDataJSON = toB64url(r.clientDataJSON);
    if (r.attestationObject) {
      out.response.attestationObject = toB64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = toB64url(r.authenticatorData);
      out.response.signature = toB64url(r.signature);
      if (r.userHandle) out.response.userHandle = toB64url(r.userHandle);
    }
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    return out;
  }

  async function register(form) {
    const name = form.querySelector('input[name="name"]').value;
    const options = await post(form.dataset.options, { name: name });
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    (options.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    const cred = await navigator.credentials.create({ publicKey: options });
    await post(form.dataset.verify, { name: name, credential: credentialJSON(cred) });
    window.location.assign(form.dataset.next);
  }

  async function authenticate(button) {
    const options = await post(button.dataset.options, {});
    options.challenge = toBytes(options.challenge);
    (options.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    const cred = await navigator.credentials.get({ publicKey: options });
    const answer = await post(button.dataset.verify, { credential: credentialJSON(cred) });
    window.location.assign(answer.next || button.dataset.next);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll('form[data-webauthn="register"]').forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        register(form).catch(function (e) { showError(e.message || String(e)); });
      });
    });
    document.querySelectorAll('button[data-webauthn="authenticate"]').forEach(function (button) {
      button.addEventListener("click", function () {
        authenticate(button).catch(function (e) { showError(e.message || String(e)); });
      });
    });
  });
})();
