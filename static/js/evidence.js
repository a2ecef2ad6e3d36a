// The incident page's evidence sections, edited in place with htmx; the forms work without this file.
// - A form that opens (or comes back with errors) takes the focus: its first field in error, else its first field.
// - Escape in a form cancels it, as its Cancel link does.
// - When a form closes, the focus goes back to the button that opened it (or, if that record is gone,
//   to the section's heading), so a keyboard user keeps their place.
(function () {
  "use strict";
  var opener = null;

  function firstField(form) {
    return form.querySelector("[aria-invalid=true]") ||
      form.querySelector("input:not([type=hidden]), select, textarea");
  }

  function focusForm(root) {
    var form = root.querySelector("form[data-evidence-form]");
    if (!form) return false;
    var field = firstField(form);
    if (field) field.focus();
    return true;
  }

  document.addEventListener("click", function (event) {
    var trigger = event.target.closest("[data-focus-key]");
    if (trigger) opener = trigger.getAttribute("data-focus-key");
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var form = event.target.closest && event.target.closest("form[data-evidence-form]");
    if (!form) return;
    var cancel = form.querySelector("[data-cancel]");
    if (cancel) {
      event.preventDefault();
      cancel.click();
    }
  });

  document.body.addEventListener("htmx:afterSettle", function (event) {
    // Fired on each swapped-in element: with outerHTML, the new section itself.
    var section = event.target;
    if (!section.matches || !section.matches("[data-evidence-section]")) return;
    if (focusForm(section)) return;
    var back = opener && section.querySelector('[data-focus-key="' + opener + '"]');
    if (!back) back = section.querySelector("h2");
    if (back) back.focus();
    opener = null;
  });

  // Without htmx (or on a link opened in a new tab) the page arrives with the form open.
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-evidence-form]");
    if (form) {
      form.scrollIntoView({ block: "center" });
      var field = firstField(form);
      if (field) field.focus();
    }
  });
})();
