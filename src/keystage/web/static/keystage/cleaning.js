// The cleaning grid, a little quicker with JavaScript: a row whose values were changed is
// marked, the count of unsaved rows is shown by the save button, and leaving the page with
// unsaved changes asks first. Without it the grid works the same, as a plain form.
const grid = document.querySelector("form#grid");

if (grid) {
  // Rows the server marked changed: a save that was refused keeps the values typed.
  const changed = new Set(
    Array.from(grid.querySelectorAll("tr[data-pupil].keystage-changed"), (r) => r.dataset.pupil),
  );
  const button = grid.querySelector('button[value="save"]');
  const label = button ? button.textContent.trim() : "";
  let submitting = false;
  if (button && changed.size) {
    button.textContent = `${label} (${changed.size} changed)`;
  }

  const original = (field) =>
    field.tagName === "SELECT"
      ? Array.from(field.options).find((o) => o.defaultSelected)?.value ?? ""
      : field.defaultValue;

  grid.addEventListener("input", (event) => {
    const field = event.target;
    const row = field.closest("tr[data-pupil]");
    if (!row || field.type === "checkbox") return;
    const held = JSON.parse(row.querySelector('input[name^="o-"]')?.value || "{}");
    const dirty = Array.from(row.querySelectorAll("input[type=text], select")).some((f) => {
      const name = f.name.slice(f.name.indexOf("-") + 1);
      return name in held ? f.value !== held[name] : f.value !== original(f);
    });
    row.classList.toggle("keystage-changed", dirty);
    if (dirty) changed.add(row.dataset.pupil);
    else changed.delete(row.dataset.pupil);
    if (button) {
      button.textContent = changed.size ? `${label} (${changed.size} changed)` : label;
    }
  });

  grid.addEventListener("submit", () => {
    submitting = true;
  });

  window.addEventListener("beforeunload", (event) => {
    if (changed.size && !submitting) {
      event.preventDefault();
    }
  });
}
