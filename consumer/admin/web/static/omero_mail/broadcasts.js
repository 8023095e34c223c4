/* The broadcasts page: each row's status, fetched after the page is shown, two at a time (set as text only). */
(function () {
  "use strict";
  var AT_ONCE = 2;
  var rows = Array.prototype.slice.call(document.querySelectorAll("#broadcasts tr[data-progress]"));

  function show(row, state, lines) {
    var cell = row.querySelector(".status");
    cell.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = state;
    strong.className = state === "finished" ? "good" : (state === "refused" ? "bad" : "");
    cell.appendChild(strong);
    lines.forEach(function (line) {
      var div = document.createElement("div");
      div.textContent = line;
      cell.appendChild(div);
    });
  }

  function next() {
    var row = rows.shift();
    if (!row) { return; }
    fetch(row.getAttribute("data-progress"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (p) {
        if (p.error) { show(row, "unknown", [p.error]); } else { show(row, p.state, p.summary); }
      })
      .catch(function () { show(row, "unknown", ["not read"]); })
      .then(next);
  }

  for (var i = 0; i < AT_ONCE; i += 1) { next(); }
}());
