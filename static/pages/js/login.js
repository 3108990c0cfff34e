// Sign-in with a bearer token: GET /api/v1/me decides the role and the page to land on.

import { api, PAGE_OF_ROLE, signIn } from "./api.js";
import { $, busy, clearProblem, showMessage, showProblem, validate } from "./ui.js";

const form = $("#login-form");
const errorBox = $("#login-error");
const params = new URLSearchParams(window.location.search);

if (params.get("expired")) showMessage(errorBox, "登录已失效，请重新输入访问令牌。");

function landing(account) {
  const wanted = params.get("next");
  const own = PAGE_OF_ROLE[account.role] || "/login";
  // Only a page of this service, and only the role's own one.
  return wanted && wanted === own ? wanted : own;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!validate(form)) return;
  const token = $("#token").value.trim();
  busy(form.querySelector("button[type=submit]"), async () => {
    clearProblem(errorBox);
    try {
      const account = await api("/me", { token });
      signIn.remember(token, account);
      window.location.assign(landing(account));
    } catch (error) {
      showProblem(errorBox, error, "登录失败");
      $("#token").focus();
    }
  });
});

$("#token").focus();
