// Forms marked data-progress show a note and disable their button while the server works.
document.querySelectorAll("form[data-progress]").forEach((form) => {
  form.addEventListener("submit", () => {
    const button = form.querySelector("button");
    const note = form.querySelector(".progress-note");
    if (button) { button.disabled = true; button.classList.add("busy"); }
    if (note) note.hidden = false;
  });
});
