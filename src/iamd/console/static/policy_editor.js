// iamd console: the policy editor. As one types, the policy goes to the console's ValidatePolicy
// endpoint (debounced, the CSRF token in X-CSRF-Token) and the findings are listed under the
// editor; selecting one puts the caret where it points. Without this script the Validate button
// posts the form and the server lists the same findings.
"use strict";

(function () {
  const DELAY = 400;

  function meta(name) {
    const el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : "";
  }

  // The index in ``text`` of line ``line`` (from 1), column ``column`` (from 1, in characters).
  function indexOf(text, line, column) {
    let index = 0;
    for (let n = 1; n < line; n++) {
      const next = text.indexOf("\n", index);
      if (next < 0) return text.length;
      index = next + 1;
    }
    const end = text.indexOf("\n", index);
    const chars = Array.from(text.slice(index, end < 0 ? text.length : end)).slice(0, Math.max(0, column - 1));
    return index + chars.join("").length;
  }

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("policy-form");
    if (!form) return;
    const area = document.getElementById("policy-document");
    const gutter = document.getElementById("gutter");
    const kind = document.getElementById("policy-kind");
    const resourceType = document.getElementById("resource-type");
    const resourceLabel = document.getElementById("resource-type-label");
    const list = document.getElementById("findings-list");
    const summary = document.getElementById("findings-summary");
    const state = document.getElementById("validate-state");
    let timer = null;
    let sequence = 0;

    let numbered = 0;

    function numberLines() {
      const count = Math.max(area.value.split("\n").length, 12);
      if (count !== numbered) {
        const lines = [];
        for (let n = 1; n <= count; n++) lines.push(String(n));
        gutter.textContent = lines.join("\n") + "\n";
        numbered = count;
      }
      area.rows = count;
      gutter.scrollTop = area.scrollTop;
    }

    function showResourceType() {
      resourceLabel.hidden = kind.value !== "resource";
    }

    function moveTo(item) {
      const line = parseInt(item.dataset.line, 10);
      const column = parseInt(item.dataset.column, 10);
      if (!line) return;
      const at = indexOf(area.value, line, column || 1);
      area.focus();
      area.setSelectionRange(at, at);
      // Bring the line into view: the textarea grows with its content, so scroll the page.
      const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 18;
      const top = area.getBoundingClientRect().top + window.scrollY + (line - 1) * lineHeight;
      if (top < window.scrollY || top > window.scrollY + window.innerHeight - lineHeight) {
        window.scrollTo({ top: Math.max(0, top - window.innerHeight / 3) });
      }
    }

    function render(findings) {
      list.textContent = "";
      findings.forEach(function (f) {
        const item = document.createElement("li");
        item.className = "finding";
        item.tabIndex = 0;
        item.dataset.line = f.line || "";
        item.dataset.column = f.column || "";
        const badge = document.createElement("span");
        badge.className = "badge type-" + f.findingType.toLowerCase();
        badge.textContent = f.findingType;
        const code = document.createElement("code");
        code.className = "code";
        code.textContent = f.issueCode;
        const where = document.createElement("span");
        where.className = "where";
        where.textContent = (f.line ? "Ln " + f.line + ", Col " + f.column : "") + (f.path ? " · " + f.path : "");
        const details = document.createElement("span");
        details.className = "details";
        details.textContent = f.details;
        item.append(badge, " ", code, " ", where, " ", details);
        if (f.learnMoreLink) {
          const link = document.createElement("a");
          link.href = f.learnMoreLink;
          link.rel = "noopener noreferrer";
          link.target = "_blank";
          link.textContent = "Learn more";
          item.append(" ", link);
        }
        list.append(item);
      });
      summary.textContent = findings.length
        ? "Select a finding to go to it in the policy."
        : "No findings: the policy passes Access Analyzer's checks.";
      state.textContent = findings.length + (findings.length === 1 ? " finding" : " findings");
    }

    async function validate() {
      const mine = ++sequence;
      state.textContent = "Checking…";
      try {
        const answer = await fetch(form.dataset.validate, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": meta("csrf-token") },
          body: JSON.stringify({ document: area.value, kind: kind.value, resourceType: resourceType.value }),
        });
        const data = await answer.json().catch(function () { return {}; });
        if (mine !== sequence) return; // a newer check is on its way
        if (!answer.ok) {
          list.textContent = "";
          summary.textContent = data.error || "The policy could not be checked (" + answer.status + ").";
          state.textContent = "";
          return;
        }
        render(data.findings || []);
        document.dispatchEvent(new CustomEvent("policy-checked", { detail: data }));
      } catch (e) {
        if (mine === sequence) state.textContent = "The policy could not be checked: " + (e.message || e);
      }
    }

    function later() {
      clearTimeout(timer);
      timer = setTimeout(validate, DELAY);
    }

    area.addEventListener("input", function () { numberLines(); later(); });
    area.addEventListener("scroll", function () { gutter.scrollTop = area.scrollTop; });
    kind.addEventListener("change", function () { showResourceType(); later(); });
    resourceType.addEventListener("change", later);
    list.addEventListener("click", function (event) {
      if (event.target.closest("a")) return;
      const item = event.target.closest("li.finding");
      if (item) moveTo(item);
    });
    list.addEventListener("keydown", function (event) {
      const item = event.target.closest("li.finding");
      if (item && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); moveTo(item); }
    });
    showResourceType();
    numberLines();
    validate();
  });
})();
