// The parking lot's check boxes: every one on the page at once, the buttons only with a choice,
// and no replay offered while an untrusted message is chosen (the server refuses it anyway).
(function () {
  "use strict";
  var form = document.getElementById("chosen");
  var replay = document.getElementById("replay-selected");
  if (!form || !replay) {
    return;
  }
  var purge = document.getElementById("purge-selected");
  var note = document.getElementById("untrusted-note");
  var all = document.getElementById("all");
  var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=key]"));

  function update() {
    var chosen = boxes.filter(function (box) { return box.checked; });
    var untrusted = chosen.some(function (box) { return box.hasAttribute("data-untrusted"); });
    replay.disabled = chosen.length === 0 || untrusted;
    purge.disabled = chosen.length === 0;
    note.hidden = !untrusted;
    all.checked = chosen.length > 0 && chosen.length === boxes.length;
  }

  all.addEventListener("change", function () {
    boxes.forEach(function (box) { box.checked = all.checked; });
    update();
  });
  boxes.forEach(function (box) { box.addEventListener("change", update); });
  update();
}());
