// The composer saves the draft by itself: a few seconds after typing stops, and when the page is left.
// Until the server has the text, a copy stays in this browser (localStorage), so an ended session loses
// nothing: after logging in again, the page brings the text back and saves it. Without JS, the buttons work.
(function () {
  "use strict";
  var IDLE_MS = 2000;

  function fillBrowserZone() {
    var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone) { return; }
    document.querySelectorAll("[data-browser-zone]").forEach(function (field) {
      if (field.value) { return; }
      if (field.tagName === "SELECT" && !field.querySelector('option[value="' + zone + '"]')) { return; }
      field.value = zone;
    });
  }

  function Composer(form) {
    this.form = form;
    this.url = form.getAttribute("data-autosave-url");
    this.key = "newsletter-draft:" + form.getAttribute("data-draft-key");
    this.status = form.querySelector(".autosave-status");
    this.login = form.querySelector(".autosave-login");
    this.frame = document.querySelector("iframe[name=live-preview]");
    this.dirty = false;
    this.timer = null;
    this.inFlight = false;
  }

  Composer.prototype.fields = function () {
    return {subject: this.form.elements.subject.value, body: this.form.elements.body.value};
  };

  Composer.prototype.say = function (kind, detail) {
    var text = this.status.getAttribute("data-" + kind) || "";
    this.status.textContent = kind === "saved" ? text.replace("__TIME__", detail) : text + (detail ? " " + detail : "");
    this.status.hidden = false;
    this.login.hidden = kind !== "failed";
  };

  Composer.prototype.keep = function () {
    var copy = this.fields();
    copy.at = Date.now();
    try { localStorage.setItem(this.key, JSON.stringify(copy)); } catch (e) { /* private mode: the server copy only */ }
  };

  Composer.prototype.forget = function () {
    try { localStorage.removeItem(this.key); } catch (e) { /* nothing kept */ }
  };

  Composer.prototype.restore = function () {
    var kept = null;
    try { kept = JSON.parse(localStorage.getItem(this.key) || "null"); } catch (e) { kept = null; }
    if (!kept) { return; }
    var now = this.fields();
    var serverTime = Number(this.form.getAttribute("data-updated-at") || 0);
    if (kept.subject === now.subject && kept.body === now.body) { this.forget(); return; }
    if (kept.at <= serverTime) { this.forget(); return; }  // the server has newer text (saved elsewhere)
    this.form.elements.subject.value = kept.subject;
    this.form.elements.body.value = kept.body;
    this.dirty = true;
    this.say("restored");
    this.save();
  };

  Composer.prototype.changed = function () {
    this.dirty = true;
    this.keep();
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(this.save.bind(this), IDLE_MS);
  };

  Composer.prototype.save = function () {
    if (this.inFlight) { this.timer = window.setTimeout(this.save.bind(this), IDLE_MS); return; }
    var self = this, sent = JSON.stringify(this.fields());
    this.inFlight = true;
    this.say("saving");
    fetch(this.url, {method: "POST", body: new FormData(this.form), credentials: "same-origin",
                     headers: {"Accept": "application/json"}, redirect: "manual"})
      .then(function (answer) {
        var json = (answer.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        if (!json) { return Promise.reject("session"); }
        return answer.json().then(function (data) { return answer.ok ? data : Promise.reject(data.error); });
      })
      .then(function (data) { self.saved(data, sent); }, function (why) {
        self.say(why === "session" ? "failed" : "refused", why === "session" ? "" : why);
      })
      .then(function () { self.inFlight = false; });
  };

  Composer.prototype.saved = function (data, sent) {
    if (data.issue_url) {  // the first save of a new issue created it: from now on, this is its page
      this.url = data.autosave_url;
      this.form.action = data.issue_url;
      this.forget();
      this.key = "newsletter-draft:issue:" + data.issue_url.split("/").pop();
      window.history.replaceState(null, "", data.issue_url);
    }
    this.form.setAttribute("data-updated-at", data.updated_at);
    if (JSON.stringify(this.fields()) === sent) { this.dirty = false; this.forget(); } else { this.keep(); }
    this.say("saved", data.saved_at);
    if (this.frame) { this.frame.src = data.preview_url + "?at=" + Date.now(); }
  };

  Composer.prototype.leave = function () {
    // The page is being hidden or closed: hand the last text to the server without waiting for an answer.
    if (this.dirty && navigator.sendBeacon) { navigator.sendBeacon(this.url, new FormData(this.form)); }
  };

  Composer.prototype.start = function () {
    var self = this;
    this.form.addEventListener("input", function () { self.changed(); });
    this.form.addEventListener("submit", function () { self.dirty = false; });
    window.addEventListener("beforeunload", function (event) {
      if (!self.dirty) { return; }
      event.preventDefault();
      event.returnValue = "";
    });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") { self.leave(); }
    });
    this.restore();
  };


  // Images: chosen with the file button or dropped on the text, uploaded at once, their Markdown put at the cursor.
  function Uploader(form, textarea) {
    this.form = form;
    this.textarea = textarea;
    this.status = form.querySelector(".upload-status");
    this.input = form.querySelector("input[type=file]");
  }

  Uploader.prototype.send = function (file) {
    var self = this, data = new FormData(this.form);
    data.set(this.input.name, file);
    this.status.textContent = this.form.getAttribute("data-uploading") || "…";
    fetch(this.form.action, {method: "POST", body: data, credentials: "same-origin",
                             headers: {"Accept": "application/json"}, redirect: "manual"})
      .then(function (answer) {
        if ((answer.headers.get("Content-Type") || "").indexOf("application/json") !== 0) { return Promise.reject(""); }
        return answer.json().then(function (json) { return answer.ok ? json : Promise.reject(json.error); });
      })
      .then(function (json) { self.insert(json.markdown); self.status.textContent = self.form.getAttribute("data-uploaded"); },
            function (why) { self.status.textContent = why || self.form.getAttribute("data-upload-failed"); })
      .then(function () { self.input.value = ""; });
  };

  Uploader.prototype.insert = function (markdown) {
    var area = this.textarea, at = area.selectionStart || area.value.length;
    var before = area.value.slice(0, at), after = area.value.slice(area.selectionEnd || at);
    var block = (before && !/\n\n$/.test(before) ? (/\n$/.test(before) ? "\n" : "\n\n") : "") + markdown + "\n\n";
    area.value = before + block + after;
    var alt = before.length + block.indexOf("![") + 2;  // the cursor waits where the description goes
    area.focus();
    area.setSelectionRange(alt, alt);
    area.dispatchEvent(new Event("input", {bubbles: true}));
  };

  Uploader.prototype.start = function () {
    var self = this;
    this.input.addEventListener("change", function () { if (self.input.files[0]) { self.send(self.input.files[0]); } });
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (self.input.files[0]) { self.send(self.input.files[0]); }
    });
    this.textarea.addEventListener("dragover", function (event) { event.preventDefault(); });
    this.textarea.addEventListener("drop", function (event) {
      var file = event.dataTransfer && event.dataTransfer.files[0];
      if (!file) { return; }
      event.preventDefault();
      self.send(file);
    });
  };

  document.addEventListener("DOMContentLoaded", function () {
    fillBrowserZone();
    var form = document.querySelector("form.composer[data-autosave-url]");
    if (!form || !window.fetch || !window.FormData) { return; }
    new Composer(form).start();
    var upload = document.querySelector("form.image-upload");
    if (upload) { new Uploader(upload, form.elements.body).start(); }
  });
}());
