// LTI Dynamic Registration: tell the LMS window that registration is over,
// so it can close the registration frame or window and show the result.
(function () {
  "use strict";
  function close() {
    var target = window.opener || (window.parent !== window ? window.parent : null);
    if (target) {
      // The message carries no secret; the LMS origin is not known for sure
      // here, so any origin may receive it, as LTI Dynamic Registration specifies.
      target.postMessage({ subject: "org.imsglobal.lti.close" }, "*");
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("[data-lti-close]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", close);
    }
  });
})();
