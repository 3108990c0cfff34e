// The JSON API of the service, called with the bearer token kept in sessionStorage.
// Only this origin is ever contacted (the pages' Content-Security-Policy enforces it too).

const TOKEN_KEY = "dualchannel.token";
const ACCOUNT_KEY = "dualchannel.account";

export const PAGE_OF_ROLE = {
  physician: "/physician", pharmacy: "/pharmacy", bureau: "/bureau", admin: "/bureau", institution: "/institution",
};

/** The signed-in account, kept for this browser tab only. */
export const signIn = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  account() {
    try { return JSON.parse(sessionStorage.getItem(ACCOUNT_KEY) || "null"); } catch { return null; }
  },
  remember(token, account) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(ACCOUNT_KEY, JSON.stringify(account));
  },
  forget() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ACCOUNT_KEY);
  },
};

/** An error answer of the API: its status and its problem+json body. */
export class ApiError extends Error {
  constructor(status, problem, path) {
    super((problem && problem.detail) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.path = path;
  }
}

/**
 * Call `/api/v1{path}`. `query` values that are null, undefined or "" are left out.
 * Resolves to the parsed JSON body; rejects with ApiError (status 0 when the network failed).
 * A 401 signs the tab out and goes to the sign-in page, unless `token` was given explicitly.
 */
export async function api(path, { method = "GET", body, query, headers = {}, token } = {}) {
  const url = new URL(`/api/v1${path}`, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  const bearer = token ?? signIn.token();
  const sent = { Accept: "application/json, application/problem+json", ...headers };
  if (bearer) sent.Authorization = `Bearer ${bearer}`;
  const init = { method, headers: sent, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    sent["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(0, { title: "Network error", detail: String(error) }, path);
  }
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    if (response.status === 401 && token === undefined) {
      signIn.forget();
      window.location.assign("/login?expired=1");
    }
    throw new ApiError(response.status, data, path);
  }
  return data;
}

/** A fresh Idempotency-Key. crypto.randomUUID needs a secure context; a plain-HTTP intranet
 * address is not one, so fall back to a v4 UUID from crypto.getRandomValues. */
export function newIdempotencyKey() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
