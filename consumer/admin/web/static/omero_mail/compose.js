/* The Email page, as OMERO.web's: "All Users" disables the users and groups, which it ignores. */
(function () {
  "use strict";
  var everyone = document.getElementById("id_everyone");
  if (!everyone) { return; }
  function update() {
    document.getElementById("id_experimenters").disabled = everyone.checked;
    document.getElementById("id_groups").disabled = everyone.checked;
  }
  everyone.addEventListener("change", update);
  update();
}());
