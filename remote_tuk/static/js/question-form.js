// The question form shows only the fields of the chosen kind (without this script every field is shown, and the server
// ignores the fields of the other kinds).
(function () {
  "use strict";
  const form = document.querySelector(".question-form");
  if (!form) return;
  const select = form.querySelector("[data-kind-select]");
  function show(kind) {
    form.dataset.kind = kind;
    form.querySelectorAll("[data-for-kind]").forEach((el) => {
      el.hidden = !el.dataset.forKind.split(" ").includes(kind);
    });
  }
  show(select ? select.value : form.dataset.kind);
  if (select) select.addEventListener("change", () => show(select.value));
})();
