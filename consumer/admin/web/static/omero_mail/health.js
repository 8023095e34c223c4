/* The Health page reads again by itself: every few seconds (the section's data-refresh) it
   fetches its own content (health/?part=1) and puts it in place of the old, while the tab is
   visible. A file, not an inline script: the standalone app's Content-Security-Policy allows
   only the app's own files. What is fetched is the server's escaped HTML; parsed by
   DOMParser, none of it runs. */
(function () {
  "use strict";
  var ID = "omero-mail-health";

  function section() {
    return document.getElementById(ID);
  }

  function later() {
    var current = section();
    var seconds = current ? Number(current.getAttribute("data-refresh")) || 5 : 5;
    window.setTimeout(refresh, seconds * 1000);
  }

  function stale() {
    var note = document.querySelector("#" + ID + " .omero-mail-stale");
    if (note) {
      note.hidden = false;
    }
  }

  function refresh() {
    var current = section();
    if (!current || document.hidden) {
      later();
      return;
    }
    var url = new URL(current.getAttribute("data-part"), window.location.href);
    fetch(url, {credentials: "same-origin", cache: "no-store", redirect: "error"})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById(ID);
        if (!fresh) {
          throw new Error("no health section in the answer");
        }
        section().replaceWith(document.importNode(fresh, true));
      })
      .catch(stale)
      .then(later);
  }

  later();
}());
