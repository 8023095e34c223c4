/* A broadcast's page: poll its progress until it is finished, and draw the bar, OMERO's summary and the emails.
   Everything from the server is set as text (textContent), never as HTML. */
(function () {
  "use strict";
  var PERIOD = 500, AFTER_TROUBLE = 2000;
  var root = document.getElementById("broadcast");
  if (!root) { return; }
  var url = root.getAttribute("data-progress");

  function byId(id) { return document.getElementById(id); }
  function text(id, value) { byId(id).textContent = value === null || value === undefined || value === "" ? "—" : String(value); }

  function trouble(message) {
    var p = byId("trouble");
    p.textContent = message;
    p.hidden = !message;
  }

  function width(id, part, total) {
    byId(id).style.width = (total > 0 ? (100 * part / total) : 0) + "%";
  }

  function draw(p) {
    var q = p.queued || {};
    text("queued-at", q.at ? q.at.replace("T", " ").replace("+00:00", " UTC") : "");
    text("requested-by", q.requested_by);
    text("subject", q.subject);
    text("recipients", q.recipients);
    text("copies", (q.cc === null || q.cc === undefined) ? "" : q.cc + " Cc, " + q.bcc + " Bcc");
    var total = p.total || 0, bar = byId("bar");
    bar.setAttribute("aria-valuemax", String(total));
    bar.setAttribute("aria-valuenow", String(p.sent + p.failed));
    width("bar-sent", p.sent, total);
    width("bar-failed", p.failed, total);
    width("bar-retrying", p.retrying, total);
    byId("counts").textContent = p.total === null ? "Not planned yet."
      : p.sent + " sent, " + p.failed + " failed, " + p.retrying + " waiting to be retried, " + p.waiting + " waiting, of " + total + " emails";
    var state = byId("state");
    state.textContent = p.state;
    state.setAttribute("data-state", p.state);
    var summary = byId("summary");
    summary.textContent = "";
    p.summary.forEach(function (line) {
      var li = document.createElement("li");
      li.textContent = line;
      summary.appendChild(li);
    });
    var body = byId("emails").tBodies[0];
    body.textContent = "";
    p.emails.forEach(function (email) {
      var tr = document.createElement("tr");
      tr.className = email.outcome;
      [email.recipient, email.outcome, email.attempts === null ? "" : email.attempts, email.reply].forEach(function (value) {
        var td = document.createElement("td");
        td.textContent = value;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    var unlisted = byId("unlisted");
    unlisted.hidden = !p.unlisted;
    unlisted.textContent = p.unlisted ? "and " + p.unlisted + " more emails, not listed" : "";
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (response.redirected || type.indexOf("application/json") !== 0) {
        trouble("You are logged out: the consumers send the emails anyway. Log in again to follow them here.");
        return;
      }
      return response.json().then(function (p) {
        if (p.error) {
          trouble(p.error);
          if (response.status !== 404) { window.setTimeout(poll, AFTER_TROUBLE); }
          return;
        }
        trouble("");
        draw(p);
        if (!p.finished) { window.setTimeout(poll, PERIOD); }
      });
    }).catch(function () {
      trouble("The web app does not answer; trying again. The consumers send the emails anyway.");
      window.setTimeout(poll, AFTER_TROUBLE);
    });
  }

  poll();
}());
