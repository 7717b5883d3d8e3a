/* Ascolto web chat widget: the survey at the end of a chat. Loaded by widget.js only when the
 * chat ended with a survey link `u`. Apache-2.0, no dependencies.
 * A tap records the score (the one-click answer URL), then the "why?" box is shown inline and
 * posted to `u + "comment/"` as text/plain JSON (the link is the authorisation); the link to
 * the survey page stays as the fallback. See docs/surveys.md. */
(function () {
  "use strict";
  var T = {
    en: { survey: "Tell us how we did", why: "What could we do better?", send: "Send",
      more: "Thanks! Tell us more", thanks: "Thank you for your feedback!", error: "Something went wrong." },
    it: { survey: "Dicci come è andata", why: "Cosa potremmo fare meglio?", send: "Invia",
      more: "Grazie! Raccontaci di più", thanks: "Grazie per il tuo parere!", error: "Qualcosa è andato storto." },
    he: { survey: "ספרו לנו איך היה", why: "מה נוכל לעשות טוב יותר?", send: "שליחה",
      more: "תודה! ספרו לנו עוד", thanks: "תודה על המשוב!", error: "משהו השתבש." }
  };
  var ROW = "display:flex;gap:6px;margin-block:8px 4px";
  var BOX = "flex:1;border:1px solid #9ca3af;border-radius:8px;padding:8px;color:#111827;background:#fff;resize:vertical";

  window.ascoltoChatSurvey = function (n, u, lang, el) {
    var S = T[lang] || T.en;
    n.textContent = S.survey + " ";
    [1, 2, 3, 4, 5].forEach(function (s) {
      var b = n.appendChild(el("button", { type: "button", text: String(s) }));
      b.onclick = function () { why(fetch(u + "answer/" + s + "/", { mode: "no-cors" })); };
    });

    function why(scored) {
      n.textContent = "";
      var ta = el("textarea", { rows: "2", maxlength: "2000", dir: "auto", style: BOX, "aria-label": S.why, placeholder: S.why });
      var btn = el("button", { type: "submit", class: "s", text: S.send });
      var f = el("form", { style: ROW }, [ta, btn]);
      var msg = el("span", { role: "status" });
      n.appendChild(f); n.appendChild(msg);
      n.appendChild(el("a", { href: u, target: "_blank", rel: "noopener", style: "color:inherit", text: S.more }));
      f.onsubmit = function (e) {
        e.preventDefault();
        var text = ta.value.trim();
        if (!text) return;
        btn.disabled = true;
        // After the score's request has finished, so the comment finds the response.
        scored.catch(function () {}).then(function () {
          return fetch(u + "comment/", { method: "POST", headers: { "Content-Type": "text/plain" }, body: JSON.stringify({ comment: text }) });
        }).then(function (r) {
          if (!r.ok && r.status !== 409) throw new Error(String(r.status));
          n.textContent = S.thanks;
        }).catch(function () { btn.disabled = false; msg.textContent = S.error; });
      };
      ta.focus();
    }
  };
})();
