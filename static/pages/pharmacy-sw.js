// The pharmacy page's service worker (served at /pharmacy-sw.js, which prepends ASSETS and
// VERSION): keeps the page and its files so the counter opens during a network outage.
// Network first, so a working network always gets the newest files; the cache answers only
// when the network does not. API calls are never cached: the page keeps its own data
// (outbox.js, IndexedDB) and the server decides every write.
/* global ASSETS, VERSION */

const CACHE = `dualchannel-pharmacy-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith("dualchannel-pharmacy-") && n !== CACHE)
      .map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (!(path === "/pharmacy" || ASSETS.includes(path))) return;
  event.respondWith(fetch(request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(path, copy));
    }
    return response;
  }).catch(() => caches.open(CACHE).then((cache) => cache.match(path)).then((cached) => cached || Response.error())));
});
