// iamd console: "Add a SAML provider" reads a chosen metadata file into the text area (the form
// still posts the XML as text; without this script, paste it).
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  const picker = document.getElementById("saml-file");
  const area = document.getElementById("saml-metadata");
  const state = document.getElementById("saml-file-state");
  if (!picker || !area) return;
  picker.closest(".file-pick").hidden = false;
  picker.addEventListener("change", function () {
    const file = picker.files && picker.files[0];
    if (!file) return;
    if (file.size > 60000) {
      state.textContent = file.name + " is " + Math.round(file.size / 1024) + " KB: more than this form takes. Create the provider with the API (aws iam create-saml-provider).";
      return;
    }
    file.text().then(function (text) {
      area.value = text;
      state.textContent = "Read " + file.name + ".";
    }).catch(function () {
      state.textContent = "The file could not be read. Paste the metadata instead.";
    });
  });
});
