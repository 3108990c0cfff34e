// Scanning trace codes at the counter: one code per pack, checked as each scan arrives. A drug
// dispensed whole takes one pack per unit; a drug dispensed in parts (拆零, `units_per_pack`) the
// packs that cover its quantity (the server draws what each opened pack has left).
// Pure logic, no DOM: the page feeds it what the keyboard-wedge scanner typed.

export class TraceScanner {
  /**
   * @param items [{drug_code, drug_name, unit, quantity}] the prescription's items
   * @param pattern RegExp of a valid code (20 ASCII digits, as the server's)
   */
  constructor(items, pattern) {
    this.items = items.map((item) => ({
      ...item, codes: [],
      packs: item.units_per_pack ? Math.ceil(item.quantity / item.units_per_pack) : item.quantity,
    }));
    this.pattern = pattern;
    this.current = 0;
  }

  /** Where a new scan goes: the chosen item, or the next one still short of codes. */
  target() {
    const chosen = this.items[this.current];
    if (chosen && chosen.codes.length < chosen.packs) return chosen;
    return this.items.find((item) => item.codes.length < item.packs) || null;
  }

  select(index) { this.current = index; }

  owner(code) { return this.items.find((item) => item.codes.includes(code)) || null; }

  /**
   * Take one scan. Returns {ok: true, item, code} or {ok: false, reason, code, item?} where
   * reason is "empty", "format", "duplicate" (already scanned here) or "full" (nothing left).
   */
  accept(raw) {
    // Full-width digits (an IME left on) are the same digits: the server reads them so too.
    const code = String(raw).trim().replace(/[\uFF10-\uFF19]/g, (d) => String(d.charCodeAt(0) - 0xFF10));
    if (!code) return { ok: false, reason: "empty", code };
    if (!this.pattern.test(code)) return { ok: false, reason: "format", code };
    const owner = this.owner(code);
    if (owner) return { ok: false, reason: "duplicate", code, item: owner };
    const item = this.target();
    if (!item) return { ok: false, reason: "full", code };
    item.codes.push(code);
    this.current = this.items.indexOf(item);
    if (item.codes.length === item.packs) {
      const next = this.items.findIndex((other) => other.codes.length < other.packs);
      if (next >= 0) this.current = next;
    }
    return { ok: true, item, code };
  }

  remove(code) {
    const item = this.owner(code);
    if (!item) return;
    item.codes.splice(item.codes.indexOf(code), 1);
    this.current = this.items.indexOf(item);
  }

  get scanned() { return this.items.reduce((n, item) => n + item.codes.length, 0); }
  get needed() { return this.items.reduce((n, item) => n + item.packs, 0); }
  get complete() { return this.items.every((item) => item.codes.length === item.packs); }

  /** The body of POST /prescriptions/{id}/dispense. */
  payload() {
    return { items: this.items.map((item) => ({ drug_code: item.drug_code, trace_codes: [...item.codes] })) };
  }
}
