// Start of every signed-in page: check the token with GET /api/v1/me, show who is signed in,
// wire "sign out", and refuse (politely) a role the page is not for.

import { api, ApiError, PAGE_OF_ROLE, signIn } from "./api.js";
import { ROLE } from "./i18n.js";
import { h, fill, showProblem } from "./ui.js";

export async function startPage(roles, { offline = false } = {}) {
  // Busy until the page's own start has shown its first data (see whenStarted).
  document.getElementById("main").setAttribute("aria-busy", "true");
  const token = signIn.token();
  if (!token) {
    window.location.replace(`/login?next=${encodeURIComponent(window.location.pathname)}`);
    return null;
  }
  let signedOut = false;
  document.getElementById("sign-out").addEventListener("click", () => {
    signedOut = true;
    signIn.forget();
    window.location.assign("/login");
  });
  let account;
  try {
    account = await api("/me");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null; // api() is redirecting
    // A page that works offline (the pharmacy's counter) starts with the account this tab
    // signed in with; the server checks the token again on every request once online.
    if (offline && error instanceof ApiError && error.status === 0 && signIn.account()
        && roles.includes(signIn.account().role)) {
      account = signIn.account();
      fill(document.getElementById("who"), `${ROLE[account.role] || account.role}：${account.display_name}（离线）`);
      return account;
    }
    showProblem(document.getElementById("page-error"), error, "无法确认登录身份");
    return null;
  }
  // Signing out while /me was on its way must not store the token again.
  if (signedOut) return null;
  signIn.remember(token, account);
  const organisation = account.organisation && account.organisation.name !== account.display_name
    ? ` · ${account.organisation.name}` : "";
  const pharmacist = account.pharmacist ? ` · 药师 ${account.pharmacist.name}` : "";
  fill(document.getElementById("who"),
    `${ROLE[account.role] || account.role}：${account.display_name}${organisation}${pharmacist}`);
  if (!roles.includes(account.role)) {
    const own = PAGE_OF_ROLE[account.role];
    const box = document.getElementById("page-error");
    fill(box, h("p", { class: "problem-title" }, `此页面不供${ROLE[account.role] || account.role}账户使用。`),
      own ? h("p", {}, h("a", { href: own }, "前往您的工作台")) : null);
    box.hidden = false;
    for (const part of document.querySelectorAll("main > :not(#page-error)")) part.hidden = true;
    return null;
  }
  return account;
}

/**
 * The page has started once `starting` (its start, or nothing when the account was refused)
 * settles: <main> is no longer aria-busy. Assistive technology announces the content then,
 * and the browser tests act only after it, not on a page still drawing its first lists.
 */
export async function whenStarted(starting) {
  try {
    await starting;
  } finally {
    document.getElementById("main").removeAttribute("aria-busy");
  }
}

/** Settings the server put on <body> (prescription limits); a trace code is 20 digits. */
export function pageSettings() {
  const data = document.body.dataset;
  return {
    tracePattern: /^[0-9]{20}$/,
    maxDaysSupply: Number(data.maxDaysSupply || 84),
    maxValidDays: Number(data.maxValidDays || 3),
    traceUndoDays: Number(data.traceUndoDays || 7),
  };
}
