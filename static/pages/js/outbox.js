// The counter's outbox: what the pharmacist confirmed while the network was down, kept in the
// browser (IndexedDB) with the Idempotency-Key made at the moment of confirming, and sent in
// order once the network is back. The server applies each key once, so a request sent twice
// (a lost answer, two tabs, a reload mid-send) is still one dispensing.
//
// Also kept here: the trace codes scanned so far per prescription (a reload loses none) and
// the last copies of the lists and prescriptions read, so the page can show them offline.

import { api, ApiError } from "./api.js";

const DATABASE = "dualchannel-counter";
const VERSION = 1;
const OUTBOX = "outbox"; // {seq, owner, action, path, body, key, label, prescription_id, queued_at, refused}
const SCANS = "scans"; // {id: "<owner>:<prescription id>", codes: [...]}
const COPIES = "copies"; // {id: "<owner>:<what>", value}

let opened;

function database() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const request = indexedDB.open(DATABASE, VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains(OUTBOX)) db.createObjectStore(OUTBOX, { keyPath: "seq", autoIncrement: true });
        if (!db.objectStoreNames.contains(SCANS)) db.createObjectStore(SCANS, { keyPath: "id" });
        if (!db.objectStoreNames.contains(COPIES)) db.createObjectStore(COPIES, { keyPath: "id" });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return opened;
}

async function run(store, mode, work) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(store, mode);
    const request = work(transaction.objectStore(store));
    transaction.oncomplete = () => resolve(request ? request.result : undefined);
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

/** An outbox for one account (the pharmacy's `role:subject`): entries of others stay apart. */
export class Outbox {
  constructor(owner) {
    this.owner = owner;
    this.sending = null;
  }

  // --- the queue --------------------------------------------------------------------------

  /** Queue a POST with its key; resolves to the stored entry (with its `seq`). */
  async add({ action, path, body, key, label, prescription_id: prescriptionId }) {
    const entry = { owner: this.owner, action, path, body, key, label, prescription_id: prescriptionId,
      queued_at: new Date().toISOString(), refused: null };
    entry.seq = await run(OUTBOX, "readwrite", (store) => store.add(entry));
    return entry;
  }

  async entries() {
    const all = await run(OUTBOX, "readonly", (store) => store.getAll());
    return all.filter((e) => e.owner === this.owner).sort((a, b) => a.seq - b.seq);
  }

  /** Entries waiting to be sent, oldest first. */
  async queued() { return (await this.entries()).filter((e) => !e.refused); }

  /** Entries the server refused on replay, with its problem, until the pharmacist dismisses them. */
  async refused() { return (await this.entries()).filter((e) => e.refused); }

  remove(seq) { return run(OUTBOX, "readwrite", (store) => store.delete(seq)); }

  /** Whether a dispensing of this prescription is waiting. */
  async waiting(prescriptionId) {
    return (await this.queued()).some((e) => e.prescription_id === prescriptionId);
  }

  /**
   * Send one entry now. Resolves to {sent: answer} on success (removed), {offline: error} when the
   * network or the service is unreachable (kept), {refused: error} when the server said no (removed
   * if `keepRefused` is false, else kept as refused with the server's problem).
   */
  async send(entry, { keepRefused = true } = {}) {
    try {
      const answer = await api(entry.path, { method: "POST", body: entry.body,
        headers: { "Idempotency-Key": entry.key } });
      await this.remove(entry.seq);
      return { sent: answer };
    } catch (error) {
      if (unreachable(error)) return { offline: error };
      if (keepRefused) {
        const refused = { status: error.status, problem: error.problem || {}, at: new Date().toISOString() };
        await run(OUTBOX, "readwrite", (store) => store.put({ ...entry, refused }));
      } else {
        await this.remove(entry.seq);
      }
      return { refused: error };
    }
  }

  /**
   * Replay every queued entry in order, one at a time (one replay at a time per tab); stops at
   * the first unreachable answer. `onResult(entry, result)` is told of each one sent.
   */
  flush(onResult) {
    if (!this.sending) {
      this.sending = (async () => {
        for (const entry of await this.queued()) {
          const result = await this.send(entry);
          if (result.offline) return false;
          if (onResult) await onResult(entry, result);
        }
        return true;
      })().finally(() => { this.sending = null; });
    }
    return this.sending;
  }

  // --- scans and copies -------------------------------------------------------------------

  saveScans(prescriptionId, codes) {
    const id = `${this.owner}:${prescriptionId}`;
    return run(SCANS, "readwrite", (store) => (codes.length ? store.put({ id, codes }) : store.delete(id)));
  }

  async scans(prescriptionId) {
    const found = await run(SCANS, "readonly", (store) => store.get(`${this.owner}:${prescriptionId}`));
    return found ? found.codes : [];
  }

  keep(what, value) { return run(COPIES, "readwrite", (store) => store.put({ id: `${this.owner}:${what}`, value })); }

  async copy(what) {
    const found = await run(COPIES, "readonly", (store) => store.get(`${this.owner}:${what}`));
    return found ? found.value : null;
  }
}

/** The network is down, the service does not answer, or another tab is sending the same key:
 * worth retrying, not a refusal. */
export function unreachable(error) {
  return error instanceof ApiError && (error.status === 0 || error.status === 502 || error.status === 503
    || error.status === 504 || (error.status === 409 && error.problem.code === "idempotency_key_in_progress"));
}
