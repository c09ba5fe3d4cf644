// digest preview: live reload, width toggles and dark checks. No dependencies.
(function () {
  "use strict";
  var body = document.body;

  // Live reload: the server sends "reload" when a template or config.toml change rebuilt the draft.
  if (body.dataset.live === "on" && window.EventSource) {
    var events = new EventSource("/events?since=" + encodeURIComponent(body.dataset.generation));
    events.addEventListener("reload", function () {
      events.close();
      window.location.reload();
    });
  }

  var frame = document.getElementById("email-frame");
  if (!frame) { return; }
  var stage = document.getElementById("stage");
  var store = window.sessionStorage;

  function fitHeight() {
    var doc = frame.contentDocument;
    if (!doc || !doc.documentElement) { return; }
    frame.style.height = "200px";  // shrink first so a narrower layout can report its own height
    frame.style.height = Math.max(200, doc.documentElement.scrollHeight) + "px";
  }

  function press(button, on) { button.setAttribute("aria-pressed", on ? "true" : "false"); }

  var widthButtons = Array.prototype.slice.call(document.querySelectorAll("[data-width]"));
  function setWidth(px) {
    frame.style.width = px + "px";
    widthButtons.forEach(function (b) { press(b, b.dataset.width === String(px)); });
    store.setItem("digest-preview-width", String(px));
    window.requestAnimationFrame(fitHeight);
  }
  widthButtons.forEach(function (b) {
    b.addEventListener("click", function () { setWidth(b.dataset.width); });
  });

  function toggle(id, key, apply) {
    var button = document.getElementById(id);
    if (!button) { return; }
    function set(on) { apply(on); press(button, on); store.setItem(key, on ? "1" : "0"); }
    button.addEventListener("click", function () { set(button.getAttribute("aria-pressed") !== "true"); });
    set(store.getItem(key) === "1");
  }
  // An iframe's color-scheme is what its document sees as prefers-color-scheme: the email's dark styles apply.
  toggle("dark-mode", "digest-preview-dark", function (on) {
    stage.classList.toggle("dark", on);
    frame.style.colorScheme = on ? "dark" : "light";
  });
  toggle("dark-invert", "digest-preview-invert", function (on) { frame.classList.toggle("inverted", on); });

  var saved = store.getItem("digest-preview-width");
  if (saved && widthButtons.some(function (b) { return b.dataset.width === saved; })) { setWidth(saved); }
  frame.addEventListener("load", fitHeight);
  if (frame.contentDocument && frame.contentDocument.readyState === "complete") { fitHeight(); }
})();
