// iamd console: the policy editor's visual statement builder and its policy summary.
//
// The JSON text stays the one source of truth: the builder reads the statements from the editor's
// textarea, and every change in the builder writes the whole document back (pretty-printed) and
// fires an "input" event, so line numbers, validation and the summary follow as if one had typed.
// A statement the builder cannot show faithfully (several services, NotAction, a Principal, …)
// is listed as JSON, to be edited in the JSON tab.
//
// What exists comes from the console's catalog endpoints, built from the Service Authorization
// Reference iamd ships: the services, then per service its actions with their access levels and
// resource types (with ARN formats) and its condition keys. Answers are cached for the page.
"use strict";

(function () {
  const LEVELS = ["List", "Read", "Write", "Permissions management", "Tagging"];
  const OPERATORS = [
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringLike", "StringNotLike",
    "ArnEquals", "ArnLike", "ArnNotLike", "NumericEquals", "NumericLessThan", "NumericLessThanEquals",
    "NumericGreaterThan", "NumericGreaterThanEquals", "DateLessThan", "DateGreaterThan", "Bool",
    "IpAddress", "NotIpAddress", "Null",
  ];
  const TYPE_OPERATOR = { ARN: "ArnLike", Bool: "Bool", Date: "DateGreaterThan", Numeric: "NumericLessThan", IPAddress: "IpAddress" };
  let uid = 0;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([k, v]) {
      if (v === undefined || v === null || v === false) return;
      if (k === "text") node.textContent = v;
      else if (k in node && typeof v !== "string") node[k] = v;
      else node.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) { if (c !== null && c !== undefined) node.append(c); });
    return node;
  }

  // Enter in ``input`` presses ``button`` (and does not submit the editor's form).
  function submitOnEnter(input, button) {
    input.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      event.preventDefault();
      event.stopPropagation();
      button.click();
    });
  }

  function id(prefix) { uid += 1; return prefix + "-" + uid; }

  function labelled(text, control, hint) {
    if (!control.id) control.id = id("b");
    const label = el("label", { for: control.id, text: text });
    return el("div", { class: "field" }, [label, hint ? el("span", { class: "hint", text: hint }) : null, control]);
  }

  function list(value) {
    if (value === undefined || value === null) return [];
    return Array.isArray(value) ? value.slice() : [value];
  }

  function one(values) { return values.length === 1 ? values[0] : values; }

  const cache = { services: null, service: {} };

  async function getJSON(url) {
    const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!answer.ok) throw new Error("The catalog could not be loaded (" + answer.status + "). Reload the page to try again.");
    return answer.json();
  }

  function services(base) {
    if (!cache.services) cache.services = getJSON(base + "/catalog");
    return cache.services;
  }

  function service(base, prefix) {
    const key = prefix.toLowerCase();
    if (!cache.service[key]) cache.service[key] = getJSON(base + "/catalog/" + encodeURIComponent(key));
    return cache.service[key];
  }

  // Whether the builder can show this statement: one service, Action (not NotAction), no Principal.
  function editable(st) {
    if (!st || typeof st !== "object" || Array.isArray(st)) return null;
    const allowed = ["Sid", "Effect", "Action", "Resource", "Condition"];
    if (Object.keys(st).some(function (k) { return allowed.indexOf(k) < 0; })) return null;
    const actions = list(st.Action);
    if (!actions.length || actions.some(function (a) { return typeof a !== "string" || a.indexOf(":") < 1; })) return null;
    const prefixes = new Set(actions.map(function (a) { return a.split(":")[0].toLowerCase(); }));
    if (prefixes.size !== 1) return null;
    if (st.Resource !== undefined && list(st.Resource).some(function (r) { return typeof r !== "string"; })) return null;
    if (st.Condition !== undefined) {
      if (typeof st.Condition !== "object" || Array.isArray(st.Condition)) return null;
      for (const op of Object.values(st.Condition)) {
        if (!op || typeof op !== "object" || Array.isArray(op)) return null;
      }
    }
    return Array.from(prefixes)[0];
  }

  function Builder(root, area, base) {
    this.root = root;
    this.area = area;
    this.base = base;
    this.doc = null;
    this.status = root.querySelector("#builder-status");
    this.cards = root.querySelector("#builder-statements");
    this.addButton = root.querySelector("#builder-add");
    const self = this;
    // Enter in a builder field commits it (as leaving the field does) instead of submitting the
    // editor's form.
    root.addEventListener("keydown", function (event) {
      const target = event.target;
      if (event.key === "Enter" && target.tagName === "INPUT" && target.type !== "checkbox") {
        event.preventDefault();
        target.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
    this.addButton.addEventListener("click", function () {
      if (!self.doc) return;
      self.doc.Statement.push({ Effect: "Allow", Action: [], Resource: [] });
      self.write();
      self.render(self.doc.Statement.length - 1);
    });
  }

  // Read the document from the textarea; false (with the reason shown) when it is not JSON the
  // builder can hold.
  Builder.prototype.read = function () {
    let doc;
    try {
      doc = JSON.parse(this.area.value);
    } catch (e) {
      this.doc = null;
      this.status.textContent = "The JSON does not parse yet, so the visual editor cannot show it. Fix it in the JSON tab (the findings say where).";
      this.cards.textContent = "";
      this.addButton.disabled = true;
      return false;
    }
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) {
      this.doc = null;
      this.status.textContent = "A policy is a JSON object with a Statement; edit it in the JSON tab.";
      this.cards.textContent = "";
      this.addButton.disabled = true;
      return false;
    }
    if (doc.Statement === undefined) doc.Statement = [];
    if (!Array.isArray(doc.Statement)) doc.Statement = [doc.Statement];
    this.doc = doc;
    this.addButton.disabled = false;
    this.status.textContent = doc.Statement.length + (doc.Statement.length === 1 ? " statement." : " statements.");
    return true;
  };

  Builder.prototype.write = function () {
    this.area.value = JSON.stringify(this.doc, null, 2) + "\n";
    this.area.dispatchEvent(new Event("input", { bubbles: true }));
  };

  Builder.prototype.render = function (focusIndex) {
    if (!this.read()) return;
    this.cards.textContent = "";
    const self = this;
    this.doc.Statement.forEach(function (st, index) {
      self.cards.append(self.card(st, index));
    });
    if (focusIndex !== undefined) {
      const card = this.cards.children[focusIndex];
      const first = card && card.querySelector("select, input");
      if (first) first.focus();
    }
  };

  Builder.prototype.card = function (st, index) {
    const self = this;
    const prefix = editable(st);
    const heading = el("h3", { text: "Statement " + (index + 1) + (st && st.Sid ? " (" + st.Sid + ")" : "") });
    const remove = el("button", { type: "button", class: "danger small", text: "Remove statement",
      "aria-label": "Remove statement " + (index + 1) });
    remove.addEventListener("click", function () {
      self.doc.Statement.splice(index, 1);
      self.write();
      self.render();
    });
    const card = el("section", { class: "statement", "aria-label": "Statement " + (index + 1) }, [
      el("div", { class: "statement-head" }, [heading, remove]),
    ]);
    if (prefix === null && !(st && typeof st === "object" && list(st.Action).length === 0 && !st.NotAction && !st.Principal && !st.NotPrincipal && !st.NotResource)) {
      card.append(
        el("p", { class: "hint", text: "This statement uses elements the visual editor does not show (several services, NotAction, NotResource or a Principal). Edit it in the JSON tab." }),
        el("pre", { class: "policy", text: JSON.stringify(st, null, 2) }),
      );
      return card;
    }
    const effect = el("select", { class: "effect" }, ["Allow", "Deny"].map(function (e) {
      return el("option", { value: e, text: e, selected: (st.Effect || "Allow") === e });
    }));
    effect.addEventListener("change", function () { st.Effect = effect.value; self.write(); });
    const serviceInput = el("input", { type: "text", class: "service", list: "builder-services", autocomplete: "off",
      value: prefix || "", placeholder: "s3, dynamodb, iam…" });
    const body = el("div", { class: "statement-body" });
    card.append(
      el("div", { class: "row" }, [labelled("Effect", effect), labelled("Service", serviceInput, "Type to search the services by prefix or name.")]),
      body,
    );
    let loaded = null;
    const load = function (p) {
      loaded = p;
      body.textContent = "";
      if (!p) {
        body.append(el("p", { class: "hint", text: "Choose a service to list its actions." }));
        return;
      }
      body.append(el("p", { class: "hint", text: "Loading the actions of " + p + "…" }));
      service(self.base, p).then(function (data) {
        body.textContent = "";
        self.fill(body, st, data);
      }).catch(function (e) {
        body.textContent = "";
        body.append(el("p", { class: "error", role: "alert", text: e.message }));
      });
    };
    serviceInput.addEventListener("change", function () {
      const chosen = serviceInput.value.trim().split(/\s/)[0].toLowerCase();
      if (chosen === loaded) return; // Enter, then leaving the field: one change
      services(self.base).then(function (all) {
        if (!all.some(function (s) { return s.prefix === chosen; })) {
          body.textContent = "";
          body.append(el("p", { class: "error", role: "alert", text: "No service has the prefix \"" + chosen + "\". Pick one from the list (type part of its name)." }));
          return;
        }
        serviceInput.value = chosen;
        if (chosen !== (editable(st) || "")) {
          // Another service: its actions start empty, and ARNs of other services go.
          st.Action = [];
          const kept = list(st.Resource).filter(function (r) {
            const named = r.split(":")[2];
            return r === "*" || named === undefined || named === chosen || /[*?]/.test(named);
          });
          st.Resource = one(kept);
          self.write();
        }
        load(chosen);
      });
    });
    load(prefix);
    return card;
  };

  // The actions, resources and conditions of one statement on one service.
  Builder.prototype.fill = function (body, st, data) {
    const self = this;
    const prefix = data.service;
    const chosen = new Set(list(st.Action).map(function (a) { return a.split(":").slice(1).join(":"); }));
    const all = chosen.has("*");
    const byName = {};
    data.actions.forEach(function (a) { byName[a.name.toLowerCase()] = a; });
    // A wildcard other than "*" stays in the JSON as written and shows as a note.
    const patterns = Array.from(chosen).filter(function (a) { return a !== "*" && /[*?]/.test(a); });

    const actionsBox = el("fieldset", { class: "actions" }, [el("legend", { text: "Actions (" + data.name + ")" })]);
    const everything = el("input", { type: "checkbox", checked: all });
    actionsBox.append(el("label", { class: "check" }, [everything, " All " + prefix + " actions (" + prefix + ":*)"]));
    if (patterns.length) actionsBox.append(el("p", { class: "hint", text: "Also in the JSON: " + patterns.map(function (p) { return prefix + ":" + p; }).join(", ") }));
    const filter = el("input", { type: "search", class: "filter", placeholder: "Filter actions", autocomplete: "off" });
    actionsBox.append(labelled("Filter actions", filter));
    const groups = el("div", { class: "levels" });
    actionsBox.append(groups);
    const boxes = [];

    function save() {
      const names = everything.checked ? ["*"] : boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
      st.Action = one(names.concat(everything.checked ? [] : patterns).map(function (n) { return prefix + ":" + n; }));
      if (Array.isArray(st.Action) && st.Action.length === 0) st.Action = [];
      self.write();
      drawResources();
      drawConditions();
    }

    LEVELS.forEach(function (level) {
      const inLevel = data.actions.filter(function (a) { return a.level === level; });
      if (!inLevel.length) return;
      const picked = inLevel.filter(function (a) { return chosen.has(a.name) || all; }).length;
      const group = el("details", { class: "level", open: picked > 0 });
      const levelAll = el("input", { type: "checkbox", "aria-label": "All " + level + " actions", checked: picked === inLevel.length });
      const count = el("span", { class: "hint", text: picked + " of " + inLevel.length });
      group.append(el("summary", {}, [level + " ", count]));
      group.append(el("label", { class: "check" }, [levelAll, " All " + level + " actions"]));
      const items = el("ul", { class: "action-list" });
      const mine = [];
      inLevel.forEach(function (a) {
        const box = el("input", { type: "checkbox", value: a.name, checked: all || chosen.has(a.name) || Array.from(chosen).some(function (c) { return c.toLowerCase() === a.name.toLowerCase(); }) });
        box.disabled = everything.checked;
        boxes.push(box);
        mine.push(box);
        const item = el("li", { "data-name": a.name.toLowerCase() }, [el("label", { class: "check", title: a.description }, [box, " " + a.name])]);
        items.append(item);
        box.addEventListener("change", function () {
          const n = mine.filter(function (b) { return b.checked; }).length;
          count.textContent = n + " of " + inLevel.length;
          levelAll.checked = n === inLevel.length;
          save();
        });
      });
      levelAll.disabled = everything.checked;
      levelAll.addEventListener("change", function () {
        mine.forEach(function (b) { b.checked = levelAll.checked; });
        count.textContent = (levelAll.checked ? inLevel.length : 0) + " of " + inLevel.length;
        save();
      });
      group.append(items);
      groups.append(group);
    });
    everything.addEventListener("change", function () {
      groups.querySelectorAll("input[type=checkbox]").forEach(function (b) { b.disabled = everything.checked; });
      save();
    });
    filter.addEventListener("input", function () {
      const text = filter.value.trim().toLowerCase();
      groups.querySelectorAll("li[data-name]").forEach(function (li) { li.hidden = text !== "" && li.dataset.name.indexOf(text) < 0; });
      if (text) groups.querySelectorAll("details").forEach(function (d) { d.open = true; });
    });

    const resourcesBox = el("fieldset", { class: "resources" }, [el("legend", { text: "Resources" })]);
    const conditionsBox = el("fieldset", { class: "conditions" }, [el("legend", { text: "Request conditions (optional)" })]);
    body.append(actionsBox, resourcesBox, conditionsBox);

    function selectedActions() {
      if (everything.checked) return data.actions;
      const names = new Set(list(st.Action).map(function (a) { return a.split(":").slice(1).join(":").toLowerCase(); }));
      return data.actions.filter(function (a) { return names.has(a.name.toLowerCase()); });
    }

    function drawResources() {
      resourcesBox.textContent = "";
      resourcesBox.append(el("legend", { text: "Resources" }));
      const current = list(st.Resource);
      const any = el("input", { type: "checkbox", checked: current.indexOf("*") >= 0 });
      resourcesBox.append(el("label", { class: "check" }, [any, " All resources (*)"]));
      any.addEventListener("change", function () {
        st.Resource = any.checked ? "*" : [];
        self.write();
        drawResources();
      });
      const shown = el("ul", { class: "resource-list", "aria-label": "Resources in this statement" });
      current.filter(function (r) { return r !== "*"; }).forEach(function (arn) {
        const drop = el("button", { type: "button", class: "link", text: "Remove", "aria-label": "Remove resource " + arn });
        drop.addEventListener("click", function () {
          st.Resource = one(list(st.Resource).filter(function (r) { return r !== arn; }));
          self.write();
          drawResources();
        });
        shown.append(el("li", {}, [el("code", { text: arn }), " ", drop]));
      });
      resourcesBox.append(shown);
      if (any.checked) return;
      const types = new Map();
      selectedActions().forEach(function (a) {
        a.resourceTypes.forEach(function (rt) { if (!types.has(rt.name)) types.set(rt.name, rt.required); });
      });
      if (!types.size) {
        resourcesBox.append(el("p", { class: "hint", text: selectedActions().length
          ? "The chosen actions act on no specific resource type: they need \"All resources\"."
          : "Choose actions to see the resource types they act on." }));
        return;
      }
      const formats = {};
      data.resourceTypes.forEach(function (rt) { formats[rt.name] = rt.arn; });
      types.forEach(function (_required, name) {
        const format = formats[name] || "";
        const input = el("input", { type: "text", class: "arn", value: format.replace("${Partition}", "aws"), autocomplete: "off", spellcheck: "false" });
        const add = el("button", { type: "button", class: "small", text: "Add ARN", "aria-label": "Add " + name + " ARN" });
        add.addEventListener("click", function () {
          const arn = input.value.trim();
          if (!arn) return;
          const now = list(st.Resource).filter(function (r) { return r !== arn; });
          now.push(arn);
          st.Resource = one(now);
          self.write();
          drawResources();
        });
        submitOnEnter(input, add);
        resourcesBox.append(el("div", { class: "arn-row" }, [
          labelled(name + " ARN", input, "Format: " + format + " (replace each ${…}; * matches any)."),
          add,
        ]));
      });
    }

    function drawConditions() {
      conditionsBox.textContent = "";
      conditionsBox.append(el("legend", { text: "Request conditions (optional)" }));
      const table = el("ul", { class: "condition-list", "aria-label": "Conditions in this statement" });
      Object.entries(st.Condition || {}).forEach(function ([op, keys]) {
        Object.entries(keys).forEach(function ([key, values]) {
          const drop = el("button", { type: "button", class: "link", text: "Remove", "aria-label": "Remove condition " + op + " " + key });
          drop.addEventListener("click", function () {
            delete st.Condition[op][key];
            if (!Object.keys(st.Condition[op]).length) delete st.Condition[op];
            if (!Object.keys(st.Condition).length) delete st.Condition;
            self.write();
            drawConditions();
          });
          table.append(el("li", {}, [el("code", { text: key + " " + op + " " + list(values).join(", ") }), " ", drop]));
        });
      });
      conditionsBox.append(table);
      const keys = new Map();
      selectedActions().forEach(function (a) { a.conditionKeys.forEach(function (k) { keys.set(k, ""); }); });
      data.conditionKeys.forEach(function (k) { if (keys.has(k.key)) keys.set(k.key, k.type); });
      const listId = id("keys");
      const options = el("datalist", { id: listId });
      Array.from(keys.keys()).sort().forEach(function (k) { options.append(el("option", { value: k, text: k + (keys.get(k) ? " (" + keys.get(k) + ")" : "") })); });
      (data.globalConditionKeys || []).forEach(function (k) { options.append(el("option", { value: k.key, text: k.key + " (" + k.type + ", global)" })); });
      const key = el("input", { type: "text", list: listId, autocomplete: "off", spellcheck: "false", placeholder: "aws:SourceIp" });
      const op = el("select", {}, OPERATORS.map(function (o) { return el("option", { value: o, text: o }); }));
      const ifExists = el("input", { type: "checkbox" });
      const value = el("input", { type: "text", autocomplete: "off", spellcheck: "false", placeholder: "10.0.0.0/8" });
      key.addEventListener("change", function () {
        const known = keys.get(key.value) || ((data.globalConditionKeys || []).find(function (k) { return k.key === key.value; }) || {}).type;
        if (known && TYPE_OPERATOR[known]) op.value = TYPE_OPERATOR[known];
        else if (known) op.value = "StringEquals";
      });
      const add = el("button", { type: "button", class: "small", text: "Add condition" });
      const problem = el("p", { class: "error", role: "alert", hidden: true });
      add.addEventListener("click", function () {
        const k = key.value.trim();
        const values = value.value.split(",").map(function (v) { return v.trim(); }).filter(Boolean);
        if (!k || !values.length) {
          problem.hidden = false;
          problem.textContent = "Give a condition key and at least one value (separate several with commas).";
          return;
        }
        problem.hidden = true;
        const name = op.value + (ifExists.checked ? "IfExists" : "");
        st.Condition = st.Condition || {};
        st.Condition[name] = st.Condition[name] || {};
        st.Condition[name][k] = one(values);
        self.write();
        drawConditions();
      });
      submitOnEnter(value, add);
      conditionsBox.append(
        el("div", { class: "row condition-row" }, [
          labelled("Condition key", key),
          labelled("Operator", op),
          el("label", { class: "check" }, [ifExists, " If exists"]),
          labelled("Values", value, "Separate several with commas."),
        ]),
        add,
        problem,
      );
    }

    drawResources();
    drawConditions();
  };

  document.addEventListener("DOMContentLoaded", function () {
    const root = document.getElementById("builder");
    const area = document.getElementById("policy-document");
    if (!root || !area) return;
    const base = root.dataset.catalog;
    const builder = new Builder(root, area, base);
    const jsonTab = document.getElementById("tab-json");
    const visualTab = document.getElementById("tab-visual");
    const jsonPanel = document.getElementById("panel-json");
    const summaryHost = document.getElementById("summary-body");
    root.hidden = true;
    document.getElementById("editor-tabs").hidden = false;

    function show(visual) {
      visualTab.setAttribute("aria-selected", String(visual));
      jsonTab.setAttribute("aria-selected", String(!visual));
      visualTab.tabIndex = visual ? 0 : -1;
      jsonTab.tabIndex = visual ? -1 : 0;
      root.hidden = !visual;
      jsonPanel.hidden = visual;
      if (visual) builder.render();
    }
    jsonTab.addEventListener("click", function () { show(false); });
    visualTab.addEventListener("click", function () { show(true); });
    [jsonTab, visualTab].forEach(function (tab) {
      tab.addEventListener("keydown", function (event) {
        if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
          event.preventDefault();
          const other = tab === jsonTab ? visualTab : jsonTab;
          other.focus();
          show(other === visualTab);
        }
      });
    });

    // Selecting a finding while the visual editor is shown opens the JSON at it (capture: before
    // the validation script puts the caret there).
    function openFinding(event) {
      const item = event.target.closest && event.target.closest("#findings-list li.finding");
      if (item && !event.target.closest("a") && jsonPanel.hidden) show(false);
    }
    document.addEventListener("click", openFinding, true);
    document.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") openFinding(event);
    }, true);

    services(base).then(function (all) {
      const options = document.getElementById("builder-services");
      all.forEach(function (s) { options.append(el("option", { value: s.prefix, text: s.name })); });
    }).catch(function (e) { builder.status.textContent = e.message; });

    // The validation script hands every answer over: the summary comes rendered by the server's
    // template (autoescaped), the same one the page shows without JavaScript.
    document.addEventListener("policy-checked", function (event) {
      if (summaryHost && typeof event.detail.summaryHtml === "string") summaryHost.innerHTML = event.detail.summaryHtml;
    });
  });
})();
