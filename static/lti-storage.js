// LTI client-side storage (the "LTI Client Side postMessages" and "OIDC
// Login with LTI Client Side postMessages" documents of 1EdTech): at login,
// keep the state and nonce with the platform window; at launch, read the
// state back and continue the launch when it matches. Messages go only to
// the platform's origin, and answers are accepted only from it.
(function () {
  "use strict";
  var TIMEOUT_MS = 3000;

  function frameFor(target) {
    var parent = window.parent;
    if (!parent || parent === window) {
      return null;
    }
    if (target && target !== "_parent") {
      try {
        if (parent.frames[target]) {
          return parent.frames[target];
        }
      } catch (e) {
        return parent;
      }
    }
    return parent;
  }

  function send(frame, origin, message) {
    return new Promise(function (resolve, reject) {
      var id = String(Date.now()) + "-" + Math.random().toString(36).slice(2);
      message.message_id = id;
      var timer = setTimeout(function () {
        window.removeEventListener("message", onMessage);
        reject(new Error("no answer from the platform"));
      }, TIMEOUT_MS);
      function onMessage(event) {
        if (event.origin !== origin || !event.data || event.data.message_id !== id) {
          return;
        }
        if (event.data.subject !== message.subject + ".response") {
          return;
        }
        clearTimeout(timer);
        window.removeEventListener("message", onMessage);
        if (event.data.error) {
          reject(new Error(event.data.error.message || event.data.error.code || "storage error"));
        } else {
          resolve(event.data);
        }
      }
      window.addEventListener("message", onMessage);
      frame.postMessage(message, origin);
    });
  }

  function status(text) {
    var node = document.getElementById("lti-storage-status");
    if (node) {
      node.textContent = text;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("lti-storage");
    if (!box) {
      return;
    }
    var data = box.dataset;
    var frame = frameFor(data.target);
    if (data.mode === "put") {
      var go = function () { window.location.replace(data.next); };
      if (!frame) {
        go();
        return;
      }
      send(frame, data.origin, { subject: "lti.put_data", key: "state_" + data.state, value: data.state })
        .then(function () {
          return send(frame, data.origin, { subject: "lti.put_data", key: "nonce_" + data.nonce, value: data.nonce });
        })
        .then(go, go);
      return;
    }
    if (data.mode === "get") {
      if (!frame) {
        status("microcred could not reach your LMS to confirm this sign-in. Open microcred again from your course.");
        return;
      }
      send(frame, data.origin, { subject: "lti.get_data", key: "state_" + data.state })
        .then(function (answer) {
          if (answer.value === data.state) {
            document.getElementById("lti-storage-form").submit();
          } else {
            status("Your LMS does not hold this sign-in. Open microcred again from your course.");
          }
        }, function () {
          status("microcred could not confirm this sign-in with your LMS. Open microcred again from your course.");
        });
    }
  });
})();
