// hookd dashboard: small progressive enhancements. Every form also works without JavaScript.
(function () {
  "use strict";

  // Header and path-prefix rows of the integration form: "Add" clones the last row, "Remove" drops one.
  function renumber(list) {
    list.querySelectorAll("[data-header-row]").forEach(function (row, i) {
      row.querySelectorAll("label").forEach(function (label) {
        var input = row.querySelector("#" + label.getAttribute("for"));
        // ids follow the field name: header_name -> header-name-0, path_prefix -> path-prefix-0.
        var id = (input ? input.name : "row").replace(/_/g, "-") + "-" + i;
        if (input) { input.id = id; }
        label.setAttribute("for", id);
      });
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }

    var add = target.closest("[data-add-header]");
    if (add) {
      var list = document.getElementById(add.getAttribute("data-add-header"));
      var rows = list.querySelectorAll("[data-header-row]");
      var copy = rows[rows.length - 1].cloneNode(true);
      copy.querySelectorAll("input").forEach(function (input) { input.value = ""; input.removeAttribute("placeholder"); });
      list.appendChild(copy);
      renumber(list);
      copy.querySelector("input").focus();
      return;
    }

    var remove = target.closest("[data-remove-header]");
    if (remove) {
      var row = remove.closest("[data-header-row]");
      var parent = row.parentElement;
      if (parent.querySelectorAll("[data-header-row]").length > 1) {
        row.remove();
      } else {
        row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      }
      renumber(parent);
      return;
    }

    var copyButton = target.closest("[data-copy]");
    if (copyButton) {
      var field = document.getElementById(copyButton.getAttribute("data-copy"));
      if (field && navigator.clipboard) {
        navigator.clipboard.writeText(field.value).then(function () {
          copyButton.textContent = "Copied";
        });
      } else if (field) {
        field.select();
      }
    }
  });

  // Authentication: show only the fields of the chosen type.
  function showAuth(form) {
    var checked = form.querySelector("input[name='auth_type']:checked");
    if (!checked) { return; }
    form.querySelectorAll("[data-auth]").forEach(function (group) {
      group.hidden = group.getAttribute("data-auth") !== checked.value;
    });
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLInputElement && target.name === "auth_type" && target.form) {
      showAuth(target.form);
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-integration-form]").forEach(showAuth);
  });
})();
