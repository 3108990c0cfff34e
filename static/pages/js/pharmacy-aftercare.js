// After the sale, from the prescription: reprint the receipt (补打收据), reverse the settlement
// (冲正, POST /settlements/{id}/reverse) and take back a pack returned unopened within the
// window (退药, POST /trace/{code}/undo) — each with a reason and a confirmation first.
// The pharmacy's stock per drug, with low stock marked.

import { api } from "./api.js";
import { confirmAction } from "./confirm.js";
import { formatInstant, formatLastDay } from "./i18n.js";
import { receipt } from "./receipt.js";
import { $, badge, busy, clearProblem, fill, h, latestLoads, notify, show, showMessage, showProblem } from "./ui.js";

// Below this many packs a drug is marked 库存不足; at 0, 缺货.
export const LOW_STOCK = 5;
const SETTLEMENT_STATUS = { settled: "已结算", pending: "待审核（手工报销）", approved: "已审核", rejected: "已驳回", reversed: "已冲正" };

function reasonInput(id, label) {
  return h("div", { class: "field grow" }, h("label", { for: id }, label),
    h("input", { id, maxlength: 400, required: true, autocomplete: "off" }));
}

function readReason(id) {
  const input = document.getElementById(id);
  const value = input.value.trim();
  input.setAttribute("aria-invalid", value ? "false" : "true");
  if (!value) input.focus();
  return value;
}

/** The settlement of a prescription that still stands (not reversed), or null. */
async function currentSettlement(prescriptionId) {
  const { items } = await api("/settlements", { query: { prescription_id: prescriptionId, limit: 10 } });
  const live = items.find((s) => s.status !== "reversed" && s.status !== "rejected");
  return live ? api(`/settlements/${live.id}`) : null;
}

const renders = latestLoads();  // a later render shows instead
let shownFor = null;  // the prescription whose after-sale part is on the page

/** Fill the after-sale section for the open prescription; `reload()` refreshes the page's lists. */
export async function renderAftercare(prescription, account, { reload, undoDays }) {
  const latest = renders();
  const section = $("#aftercare-section");
  // A refresh of the same settled prescription keeps a reprinted receipt on the page.
  if (shownFor !== prescription.id || prescription.status !== "settled") fill($("#aftercare-receipt"));
  shownFor = prescription.id;
  const settled = ["settled"].includes(prescription.status);
  const packs = prescription.status === "dispensed" ? prescription.items.flatMap((item) =>
    item.trace_codes.map((code) => ({ code, item }))) : [];
  show(section, settled || packs.length > 0);
  clearProblem($("#aftercare-error"));
  if (settled) {
    let settlement;
    try {
      settlement = await currentSettlement(prescription.id);
    } catch (error) {
      showProblem($("#aftercare-error"), error, "无法读取结算记录");
      return;
    }
    if (!latest()) return;
    fill($("#aftercare-settlement"));
    fill($("#aftercare-packs"));
    if (!settlement) return;
    const reprint = h("button", { type: "button", id: "reprint-button" }, "补打收据");
    reprint.addEventListener("click", () => {
      fill($("#receipt-area"));  // one receipt on the page to print
      fill($("#aftercare-receipt"), receipt(settlement, prescription, account, { reprint: true }));
      window.print();
    });
    const reverse = h("button", { type: "button", id: "reverse-button", class: "danger" }, "冲正（撤销结算）");
    reverse.addEventListener("click", () => reverseSettlement(settlement, prescription, reverse, reload));
    fill($("#aftercare-settlement"),
      h("p", { class: "summary" }, `结算号 ${settlement.id}，${SETTLEMENT_STATUS[settlement.status] || settlement.status}，`
        + `${formatInstant(settlement.created_at)}，个人自付 ¥ ${settlement.patient_pays}。`),
      h("div", { class: "inline-form" }, reasonInput("reverse-reason", "冲正原因"), reprint, reverse),
      h("p", { class: "hint" }, "冲正后处方回到“已发药”，可重新结算；需退药的，冲正后再逐盒退药。"));
  }
  if (!settled) {
    fill($("#aftercare-settlement"));
    fill($("#aftercare-packs"));
  }
  if (packs.length) {
    const until = prescription.dispensed_at
      ? formatLastDay(new Date(new Date(prescription.dispensed_at).getTime() + undoDays * 86400000).toISOString()) : null;
    fill($("#aftercare-packs"),
      h("h3", {}, "退药（未拆封整盒）"),
      h("p", { class: "hint" }, `发药后 ${undoDays} 天内可退回未拆封的整盒药${until ? `（本处方至 ${until}）` : ""}；退回的追溯码可再次销售。`),
      h("div", { class: "inline-form" }, reasonInput("undo-reason", "退药原因")),
      h("ul", { class: "plain-list codes", id: "undo-list" }, packs.map(({ code, item }) => h("li", {},
        `${code} · ${item.drug_name} `,
        h("button", { type: "button", class: "small", "aria-label": `退药 ${code}`,
          onclick: (event) => undoPack(code, item, event.currentTarget, reload) }, "退药")))));
  }
}

async function reverseSettlement(settlement, prescription, button, reload) {
  const reason = readReason("reverse-reason");
  if (!reason) { showMessage($("#aftercare-error"), "请填写冲正原因。"); return; }
  const sure = await confirmAction(
    `冲正处方 ${prescription.id} 的结算（结算号 ${settlement.id}，总额 ¥ ${settlement.total}）？基金支付将退回，处方回到“已发药”。`,
    { title: "确认冲正", yes: "确认冲正" });
  if (!sure) return;
  await busy(button, async () => {
    clearProblem($("#aftercare-error"));
    try {
      await api(`/settlements/${settlement.id}/reverse`, { method: "POST", body: { reason } });
      // The settlement's idempotency key (pharmacy.js keeps one per prescription) belongs to the
      // reversed settlement: a new settlement needs a new key, or it would replay the old one.
      sessionStorage.removeItem(`dualchannel.settlement-key.${prescription.id}`);
      notify(`结算 ${settlement.id} 已冲正，处方 ${prescription.id} 回到已发药。`);
      await reload();
    } catch (error) {
      showProblem($("#aftercare-error"), error, "冲正失败");
    }
  });
}

async function undoPack(code, item, button, reload) {
  const reason = readReason("undo-reason");
  if (!reason) { showMessage($("#aftercare-error"), "请填写退药原因。"); return; }
  const sure = await confirmAction(`退回 ${item.drug_name} 一盒（追溯码 ${code}）？此盒将回到本店库存。`,
    { title: "确认退药", yes: "确认退药" });
  if (!sure) return;
  await busy(button, async () => {
    clearProblem($("#aftercare-error"));
    try {
      await api(`/trace/${code}/undo`, { method: "POST", body: { reason } });
      notify(`追溯码 ${code} 已退药。`);
      await reload();
    } catch (error) {
      showProblem($("#aftercare-error"), error, "退药失败");
    }
  });
}

// --- Stock ---------------------------------------------------------------------------------

let drugNames = null;

export async function loadStock(pharmacyCode) {
  clearProblem($("#stock-error"));
  try {
    const [stock, drugs] = await Promise.all([
      api(`/pharmacies/${encodeURIComponent(pharmacyCode)}/stock`),
      drugNames ? null : api("/drugs"),
    ]);
    if (drugs) drugNames = new Map(drugs.items.map((d) => [d.code, d]));
    const rows = Object.entries(stock).sort(([, a], [, b]) => a - b);
    const low = rows.filter(([, n]) => n < LOW_STOCK);
    fill($("#stock-summary"), `${rows.length} 种药品，`,
      low.length ? badge(`${low.length} 种低于 ${LOW_STOCK}`, "bad") : badge("库存充足", "ok"));
    fill($("#stock-table tbody"), rows.map(([code, count]) => {
      const drug = drugNames.get(code);
      const state = count <= 0 ? ["缺货", "bad"] : count < LOW_STOCK ? ["库存不足", "warn"] : ["正常", "ok"];
      return h("tr", { class: count < LOW_STOCK ? "low-stock" : "", dataset: { drug: code } },
        h("td", {}, drug ? drug.name : code, h("span", { class: "sub" }, drug ? `${drug.generic_name} · ${code}` : "")),
        h("td", { class: "num" }, `${count}${drug ? ` ${drug.unit}` : ""}`),
        h("td", {}, badge(state[0], state[1])));
    }));
  } catch (error) {
    showProblem($("#stock-error"), error, "无法读取库存");
  }
}
