// Conversation Orchestrator console: Copy and Reveal buttons. Served as an
// external file because the Content-Security-Policy allows no inline
// script. Without script the page still works; these buttons stay hidden.
(function () {
  'use strict';

  function say(button, text) {
    var id = button.getAttribute('data-status');
    var el = id && document.getElementById(id);
    if (el) { el.textContent = text; }
  }

  // copyText writes text to the clipboard: the async Clipboard API in a
  // secure context, else a temporary textarea and execCommand (password
  // fields cannot be copied from directly).
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var ta = document.createElement('textarea');
      ta.value = text;
      ta.setAttribute('readonly', '');
      ta.className = 'offscreen';
      ta.style.position = 'fixed';
      ta.style.top = '-1000px';
      document.body.appendChild(ta);
      ta.select();
      var ok = false;
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
      document.body.removeChild(ta);
      if (ok) { resolve(); } else { reject(new Error('copy refused')); }
    });
  }

  function onCopy(button) {
    var field = document.getElementById(button.getAttribute('data-copy'));
    if (!field) { return; }
    var label = field.labels && field.labels[0] ? field.labels[0].textContent.trim() : 'Text';
    copyText(field.value).then(function () {
      button.setAttribute('data-copied', 'true');
      say(button, label + ' copied to the clipboard.');
    }, function () {
      button.setAttribute('data-copied', 'false');
      say(button, 'Could not copy. Select the ' + label.toLowerCase() + ' and copy it yourself.');
      if (field.type !== 'password') { field.focus(); field.select(); }
    });
  }

  function onReveal(button) {
    var field = document.getElementById(button.getAttribute('data-reveal'));
    if (!field) { return; }
    var show = field.type === 'password';
    field.type = show ? 'text' : 'password';
    button.textContent = show ? 'Hide' : 'Reveal';
    button.setAttribute('aria-pressed', show ? 'true' : 'false');
    button.setAttribute('aria-label', (show ? 'Hide' : 'Reveal') + ' password');
  }

  function init() {
    var buttons = document.querySelectorAll('button[data-copy], button[data-reveal]');
    for (var i = 0; i < buttons.length; i++) { buttons[i].hidden = false; }
    document.addEventListener('click', function (ev) {
      var t = ev.target;
      var b = t && t.closest ? t.closest('button[data-copy], button[data-reveal]') : null;
      if (!b) { return; }
      if (b.hasAttribute('data-copy')) { onCopy(b); } else { onReveal(b); }
    });
    // Selecting a whole secret with one click is what people expect.
    var secrets = document.querySelectorAll('.secret');
    for (var j = 0; j < secrets.length; j++) {
      secrets[j].addEventListener('focus', function () { if (this.type !== 'password') { this.select(); } });
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
}());
