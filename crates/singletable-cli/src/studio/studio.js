// The studio's only script: a select that changes the form opens it at once. Choosing an
// entity opens its empty form; choosing a range query keeps what is filled in, but not the
// previous range query's values.
document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => {
      const form = select.form;
      let values = new URLSearchParams({ [select.name]: select.value });
      if (select.dataset.autosubmit === "keep") {
        values = new URLSearchParams(new FormData(form));
        for (const input of form.querySelectorAll("[data-range-field]")) {
          values.delete(input.name);
        }
      }
      const address = new URL(form.action, location.href);
      address.search = values.toString();
      location.href = address.toString();
    });
  }
  document.documentElement.dataset.scripted = "true";
});
