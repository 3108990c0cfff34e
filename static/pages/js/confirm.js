// A confirmation step before an act that cannot be taken back (退回, 冲正, 退药): the page's
// <dialog id="confirm-dialog">, resolved true on 确认 and false on 取消 or Esc.

import { $, fill } from "./ui.js";

export function confirmAction(text, { title = "请确认", yes = "确认" } = {}) {
  const dialog = $("#confirm-dialog");
  fill($("#confirm-title"), title);
  fill($("#confirm-text"), text);
  fill($("#confirm-yes"), yes);
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.removeEventListener("close", onClose);
      $("#confirm-no").removeEventListener("click", onNo);
      resolve(answer);
    };
    const onClose = () => done(dialog.returnValue === "yes");
    const onNo = () => dialog.close("no");
    dialog.returnValue = "";
    dialog.addEventListener("close", onClose);
    $("#confirm-no").addEventListener("click", onNo);
    dialog.showModal();
    $("#confirm-no").focus();
  });
}
