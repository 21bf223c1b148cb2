/**
 * The settings page's one script, served from /settings/assets/ under a content-hashed
 * name (the CSP allows no inline script); `npm run assets` copies it to public/ under that
 * name (a Workers Static Asset, outside the worker's bundle). Progressive enhancement
 * only: every page works without it, except that copy buttons stay hidden and
 * confirmations are separate pages.
 *
 * - `<button data-copy="ID">` copies the text (or value) of element ID to the clipboard and
 *   says so in the `#live` region.
 * - `<form data-confirm="DIALOG_ID">` opens that `<dialog>` instead of submitting; the
 *   dialog's `<button value="confirm">` (inside a `method="dialog"` form) submits it, with
 *   its hidden `confirmed` field set to `yes`. Without the script the form submits as it
 *   is (`confirmed` empty) and the server answers with a confirmation page.
 * - `<dialog data-modal open>` that the server rendered open becomes modal. With
 *   `data-once="PATH"` (a new token's plaintext) it is removed from the page when it closes
 *   and PATH replaces the address, so neither the page nor a reload shows it again.
 *
 * Listeners are delegated to the document, so content added later behaves the same. It
 * never reads or writes cookies or storage, and builds no HTML from strings.
 */
(function () {
  "use strict";
  var live = document.getElementById("live");
  function announce(text) {
    if (!live) return;
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 50);
  }
  function reveal(root) {
    var buttons = root.querySelectorAll("button[data-copy]");
    for (var i = 0; i < buttons.length; i++) buttons[i].hidden = false;
  }
  reveal(document);
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
    if (!target) return;
    var source = document.getElementById(target.getAttribute("data-copy"));
    if (!source) return;
    var text = "value" in source && typeof source.value === "string" ? source.value : source.textContent;
    var label = target.getAttribute("data-copy-label") || "Copied";
    navigator.clipboard.writeText((text || "").trim()).then(
      function () {
        target.setAttribute("data-copied", "true");
        announce(label + " to the clipboard");
      },
      function () { announce("Copying failed: select the text and copy it yourself"); }
    );
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var dialogId = form.getAttribute("data-confirm");
    if (!dialogId || form.getAttribute("data-confirmed") === "yes") return;
    var dialog = document.getElementById(dialogId);
    if (!(dialog instanceof HTMLDialogElement) || typeof dialog.showModal !== "function") return;
    event.preventDefault();
    dialog.returnValue = "";
    dialog.addEventListener("close", function () {
      if (dialog.returnValue !== "confirm") return;
      var confirmed = form.elements.namedItem("confirmed");
      if (confirmed instanceof HTMLInputElement) confirmed.value = "yes";
      form.setAttribute("data-confirmed", "yes");
      form.requestSubmit();
    }, { once: true });
    dialog.showModal();
  });
  function forget(dialog) {
    var back = dialog.getAttribute("data-once");
    if (back === null) return;
    // Reopening it as modal below closes it first: that close arrives while it is open again.
    dialog.addEventListener("close", function () {
      if (dialog.open || !dialog.isConnected) return;
      dialog.remove();
      if (back.charAt(0) === "/" && back.charAt(1) !== "/") history.replaceState(null, "", back);
    });
  }
  var opened = document.querySelectorAll("dialog[data-modal][open]");
  for (var j = 0; j < opened.length; j++) {
    forget(opened[j]);
    if (typeof opened[j].showModal !== "function") continue;
    opened[j].close();
    opened[j].showModal();
  }
})();
