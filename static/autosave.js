// Autosave for the draft editor on a component page.
//
// The editor is a form marked `data-autosave`. A few seconds after the
// educator stops typing, this script posts the form, urlencoded, to the
// form's own action URL (which carries the page token `_s`), with the header
// `x-autosave: 1`, so the server replies with JSON:
// `{saved, message, token}`. The message goes to the live region named by
// the form's `data-autosave-status`. The page works fully without this
// script: the Save draft button posts the same form.
(function () {
  "use strict";

  var DELAY_MS = 3000;
  var RETRY_MS = 1000;

  var form = document.querySelector("form[data-autosave]");
  if (!form || !window.fetch || !window.URLSearchParams || !window.FormData) {
    return;
  }
  var status = document.getElementById(form.getAttribute("data-autosave-status"));
  var timer = null;
  var inFlight = false;
  var dirty = false;
  var submitting = false;

  function show(message) {
    if (status) {
      status.textContent = message;
    }
  }

  function twoDigits(number) {
    return number < 10 ? "0" + number : String(number);
  }

  function clockTime(date) {
    return twoDigits(date.getHours()) + ":" + twoDigits(date.getMinutes());
  }

  // Put a fresh page token into every link and form of the page, so that a
  // long writing session does not outlive the token the page was rendered with.
  function renewToken(token) {
    if (!token) {
      return;
    }
    var renew = function (value) {
      try {
        var url = new URL(value, window.location.href);
        if (url.origin !== window.location.origin || !url.searchParams.has("_s")) {
          return value;
        }
        url.searchParams.set("_s", token);
        return url.pathname + url.search + url.hash;
      } catch (error) {
        return value;
      }
    };
    Array.prototype.forEach.call(document.querySelectorAll("form[action]"), function (element) {
      element.setAttribute("action", renew(element.getAttribute("action")));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[formaction]"), function (element) {
      element.setAttribute("formaction", renew(element.getAttribute("formaction")));
    });
    Array.prototype.forEach.call(document.querySelectorAll("a[href]"), function (element) {
      element.setAttribute("href", renew(element.getAttribute("href")));
    });
  }

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(save, delay);
  }

  // Saves the form if it changed. The promise settles when the save is done.
  function save() {
    if (submitting || !dirty) {
      return Promise.resolve();
    }
    if (inFlight) {
      schedule(RETRY_MS);
      return Promise.resolve();
    }
    inFlight = true;
    dirty = false;
    show("Saving…");
    var body = new URLSearchParams(new FormData(form));
    return window
      .fetch(form.getAttribute("action"), {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "x-autosave": "1", accept: "application/json" },
      })
      .then(function (response) {
        return response.json().then(function (reply) {
          return { ok: response.ok, reply: reply };
        });
      })
      .then(function (result) {
        if (result.ok && result.reply.saved) {
          renewToken(result.reply.token);
          show("Saved " + clockTime(new Date()));
        } else {
          dirty = true;
          show(result.reply.message || "Not saved. Select Save draft to try again.");
        }
      })
      .catch(function () {
        dirty = true;
        show("Not saved: the connection failed. Your text is still here; select Save draft to try again.");
      })
      .then(function () {
        inFlight = false;
      });
  }

  form.addEventListener("input", function () {
    dirty = true;
    schedule(DELAY_MS);
  });

  // Every form on the page reloads it. The draft form carries the text
  // itself. Before another form (a file upload or removal) is sent, the
  // changed text is saved first, so the reload does not drop it.
  Array.prototype.forEach.call(document.querySelectorAll("form"), function (element) {
    element.addEventListener("submit", function (event) {
      window.clearTimeout(timer);
      if (element !== form && dirty && !inFlight) {
        event.preventDefault();
        save().then(function () {
          submitting = true;
          element.submit();
        });
        return;
      }
      submitting = true;
    });
  });

  window.addEventListener("beforeunload", function (event) {
    if (dirty && !submitting) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
