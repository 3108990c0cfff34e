// Small DOM helpers shared by the pages. Text always goes in as text, never as HTML.

import { describeError } from "./i18n.js";
import { isResidentId } from "./idcard.js";

/** h("button", {class: "primary", onclick: f}, "text", child, ...) */
export function h(tag, attrs = {}, ...children) {
  const svg = tag.startsWith("svg:");
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function $(selector, root = document) { return root.querySelector(selector); }

/** Replace the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function show(node, visible = true) { node.hidden = !visible; return node; }

/** Show an API error (problem+json) in a `role=alert` box, in Chinese. */
export function showProblem(box, error, prefix) {
  const { message, fields, original } = describeError(error);
  fill(box,
    h("p", { class: "problem-title" }, prefix ? `${prefix}：${message}` : message),
    fields.length ? h("ul", {}, fields.map(([label, text]) => h("li", {}, label ? `${label}：${text}` : text))) : null,
    original ? h("p", { class: "sub" }, `服务器信息：${original}`) : null);
  box.hidden = false;
  if (!(error && error.status !== undefined)) console.error(error);
}

/** Show a plain Chinese message in a problem box. */
export function showMessage(box, message) {
  fill(box, h("p", { class: "problem-title" }, message));
  box.hidden = false;
}

export function clearProblem(box) { box.hidden = true; box.replaceChildren(); }

let noticeTimer;
/** A short confirmation in the page's live region. */
export function notify(message, kind = "ok") {
  const box = document.getElementById("notice");
  box.className = `notice ${kind === "ok" ? "" : kind}`;
  box.textContent = message;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { box.textContent = ""; }, 8000);
}

/** The loads of one list, numbered so that only the latest answer is drawn: a slow answer to an
 * earlier filter (or refresh) never replaces the list a later load asked for. Make one per list
 * (`const pharmacyLoads = latestLoads();`); each load starts with `const latest = pharmacyLoads();`
 * and, once answered, draws only `if (latest())`. */
export function latestLoads() {
  let started = 0;
  return () => {
    const mine = ++started;
    return () => mine === started;
  };
}

/** Run `work` with `button` disabled (no double submission), whatever happens. */
export async function busy(button, work) {
  if (button.disabled) return undefined;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

function fieldMessage(input) {
  const v = input.validity;
  if (v.valueMissing) return input.tagName === "SELECT" ? "请选择。" : "必须填写。";
  if (v.badInput) return "请输入数字。";
  if (v.rangeUnderflow) return `不能小于 ${input.min}。`;
  if (v.rangeOverflow) return `不能大于 ${input.max}。`;
  if (v.stepMismatch) return "须为整数。";
  if (v.patternMismatch) return input.dataset.patternMessage || "格式不正确。";
  if (v.tooLong) return `最多 ${input.maxLength} 个字符。`;
  if (v.customError) return input.validationMessage;
  return "";
}

/**
 * Check a form's fields with the browser's constraints plus resident-ID numbers
 * (`data-resident-id`); show Chinese messages next to the fields. Returns true when valid.
 */
export function validate(form) {
  let first = null;
  for (const input of form.querySelectorAll("input, select, textarea")) {
    if (input.closest("[hidden]") || input.disabled || input.type === "checkbox" || input.type === "radio") {
      setFieldError(input, "");
      continue;
    }
    input.setCustomValidity("");
    if (input.hasAttribute("data-resident-id") && input.value.trim() && !isResidentId(input.value)) {
      input.setCustomValidity("不是有效的 18 位居民身份证号（请核对校验位）。");
    }
    const message = input.checkValidity() ? "" : fieldMessage(input);
    setFieldError(input, message);
    if (message && !first) first = input;
  }
  if (first) first.focus();
  return !first;
}

// A field's message goes away as soon as the field is edited; the next submit checks again.
document.addEventListener("input", (event) => {
  const input = event.target;
  if (input instanceof HTMLElement && input.getAttribute("aria-invalid") === "true" && input.closest("form")) {
    setFieldError(input, "");
  }
});

/** Show (or clear) the message of one field in its `#<id>-error` element. */
export function setFieldError(input, message) {
  const box = input.id && document.getElementById(`${input.id}-error`);
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  if (box) box.textContent = message;
}

/** A `<dt>/<dd>` list from [label, value] pairs (values may be nodes). */
export function facts(dl, pairs) {
  fill(dl, pairs.filter(([, value]) => value !== undefined).flatMap(([label, value]) => [
    h("dt", {}, label), h("dd", {}, value === null || value === "" ? "—" : value)]));
  return dl;
}

export function badge(text, kind = "") { return h("span", { class: `badge ${kind}` }, text); }

const STATUS_KIND = {
  issued: "info", routed: "info", verified: "warn", dispensed: "ok", settled: "ok",
  cancelled: "", expired: "bad", not_dispensed: "bad", applied: "warn", active: "ok", suspended: "bad", exited: "",
  open: "warn", confirmed: "bad", dismissed: "",
};
export function statusBadge(code, labels) { return badge(labels[code] || code, STATUS_KIND[code] || ""); }

/** Roving keyboard focus for a `role=tablist` (arrow keys, Home, End). */
export function tabs(tablist, onChange) {
  const all = [...tablist.querySelectorAll('[role="tab"]')];
  function select(tab, focus = true) {
    for (const t of all) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) tab.focus();
    onChange(tab);
  }
  for (const tab of all) {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      const i = all.indexOf(tab);
      const next = { ArrowRight: all[(i + 1) % all.length], ArrowLeft: all[(i - 1 + all.length) % all.length],
        Home: all[0], End: all[all.length - 1] }[event.key];
      if (next) { event.preventDefault(); select(next); }
    });
  }
  return select;
}
