// The slip given to the patient (取药单): the prescription number as a QR code (drawn by the
// server, GET /prescriptions/{id}/qr.svg, shown as a data: image), the drugs, the validity, the
// chosen pharmacy and its address. Printable on its own.

import { api, signIn } from "./api.js";
import { formatLastDay } from "./i18n.js";
import { facts, h } from "./ui.js";

async function qrImage(id) {
  const response = await fetch(`/api/v1/prescriptions/${id}/qr.svg`, { headers: { Authorization: `Bearer ${signIn.token()}` } });
  if (!response.ok) throw new Error(`QR ${response.status}`);
  const svg = await response.text();
  const data = `data:image/svg+xml;base64,${btoa(String.fromCharCode(...new TextEncoder().encode(svg)))}`;
  return h("img", { src: data, alt: "处方编号二维码", class: "slip-qr", width: 164, height: 164 });
}

/** The slip of prescription `id` (read fresh, with the pharmacy's name and address). */
export async function slip(id) {
  const p = await api(`/prescriptions/${id}`);
  return h("article", { class: "slip", id: "slip", "aria-labelledby": "slip-title" },
    h("h3", { id: "slip-title" }, "双通道药品取药单"),
    h("div", { class: "slip-body" },
      await qrImage(p.id),
      facts(h("dl", { class: "facts" }), [
        ["处方编号", p.number || String(p.id)],
        ["处方号", String(p.id)],
        ["患者", `${p.patient.name}（${p.patient.id_number_masked}）`],
        ["有效期至", `${formatLastDay(p.valid_until)}（含当日，过期作废）`],
        ["取药药店", p.pharmacy_name || "尚未流转"],
        ["药店地址", p.pharmacy_address || "—"],
        ["开方医师", `${p.physician_name || p.physician_code}，${p.institution_name || p.institution_code}`],
      ])),
    h("table", { class: "grid" },
      h("caption", { class: "visually-hidden" }, "处方药品"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "药品"), h("th", { scope: "col" }, "数量"), h("th", { scope: "col" }, "用法用量"))),
      h("tbody", {}, p.items.map((i) => h("tr", {}, h("td", {}, `${i.drug_name}（${i.generic_name}）`),
        h("td", {}, `${i.quantity}${i.unit || ""}`), h("td", {}, i.dosage))))),
    h("p", { class: "note" }, "请携带本人身份证（代取须携带双方身份证）到上述药店取药；药店扫描二维码或输入处方编号调取处方。"));
}
