/* Ascolto web chat widget. No dependencies, no build step. Apache-2.0.
 * <script src="https://cx.example.com/widget.js" data-key="KEY" async></script>
 * Optional: data-locale="en|it|he", data-open="true", and for signed-in users of the host site
 * data-user-id, data-user-email, data-user-name, data-user-hash (HMAC-SHA256 of the id).
 * Protocol: connectors/webchat/consumers.py; a first question waits for articles ("suggest"). */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-key][src*='widget.js']");
  if (!script || window.AscoltoChat) return;
  var d = script.dataset, KEY = d.key || "";
  var BASE = new URL(".", script.src).href;
  var WS = BASE.replace(/^http/, "ws") + "ws/widget/?key=" + encodeURIComponent(KEY);
  var T = {
    en: { open: "Open chat", close: "Close chat", title: "Chat with us", online: "We're online",
      offline: "We're away right now", placeholder: "Write a message…", message: "Message",
      send: "Send", attach: "Send a file", you: "You", typing: "{0} is typing…", someone: "Someone",
      emailAsk: "Leave your email and we'll answer you there.", email: "Email", save: "Save",
      emailSaved: "We'll answer at {0}.", backAt: "We're back {0}.", soon: "We'll reply as soon as we can.",
      later: "We'll reply by email as soon as we can.", ended: "This conversation has ended.",
      more: "Thanks! Tell us more", reconnecting: "Reconnecting…",
      tooBig: "The file is too large.", badType: "This type of file can't be sent.", error: "Something went wrong.",
      unread: "{0} new messages", refused: "The chat is not available on this page.",
      slow: "You're sending messages too fast; wait a moment.", badEmail: "Please check the email address.",
      suggested: "These articles may answer your question", solved: "This solved it", needHelp: "I still need help",
      glad: "Glad it helped! Write again whenever you need us." },
    it: { open: "Apri la chat", close: "Chiudi la chat", title: "Scrivici", online: "Siamo online",
      offline: "Al momento non siamo disponibili", placeholder: "Scrivi un messaggio…", message: "Messaggio",
      send: "Invia", attach: "Invia un file", you: "Tu", typing: "{0} sta scrivendo…", someone: "Qualcuno",
      emailAsk: "Lasciaci la tua email e ti risponderemo lì.", email: "Email", save: "Salva",
      emailSaved: "Ti risponderemo a {0}.", backAt: "Torniamo {0}.", soon: "Ti risponderemo appena possibile.",
      later: "Ti risponderemo via email appena possibile.", ended: "La conversazione è terminata.",
      more: "Grazie! Raccontaci di più", reconnecting: "Riconnessione…",
      tooBig: "Il file è troppo grande.", badType: "Questo tipo di file non si può inviare.", error: "Qualcosa è andato storto.",
      unread: "{0} nuovi messaggi", refused: "La chat non è disponibile su questa pagina.",
      slow: "Stai scrivendo troppo in fretta; attendi un momento.", badEmail: "Controlla l'indirizzo email.",
      suggested: "Questi articoli potrebbero rispondere alla tua domanda", solved: "Ho risolto", needHelp: "Ho ancora bisogno di aiuto",
      glad: "Siamo contenti di esserti stati utili! Scrivici quando vuoi." },
    he: { open: "פתיחת צ'אט", close: "סגירת הצ'אט", title: "דברו איתנו", online: "אנחנו זמינים",
      offline: "כרגע איננו זמינים", placeholder: "כתבו הודעה…", message: "הודעה",
      send: "שליחה", attach: "שליחת קובץ", you: "את/ה", typing: "{0} מקליד/ה…", someone: "מישהו",
      emailAsk: "השאירו כתובת אימייל ונחזור אליכם שם.", email: "אימייל", save: "שמירה",
      emailSaved: "נענה לכם בכתובת {0}.", backAt: "נחזור {0}.", soon: "נענה בהקדם האפשרי.",
      later: "נענה באימייל בהקדם האפשרי.", ended: "השיחה הסתיימה.",
      more: "תודה! ספרו לנו עוד", reconnecting: "מתחבר מחדש…",
      tooBig: "הקובץ גדול מדי.", badType: "לא ניתן לשלוח קובץ מסוג זה.", error: "משהו השתבש.",
      unread: "{0} הודעות חדשות", refused: "הצ'אט אינו זמין בעמוד זה.",
      slow: "שולחים הודעות מהר מדי; המתינו רגע.", badEmail: "בדקו את כתובת האימייל.",
      suggested: "ייתכן שהמאמרים האלה עונים על השאלה שלך", solved: "זה פתר את הבעיה", needHelp: "אני עדיין צריך/ה עזרה",
      glad: "שמחים שעזרנו! כתבו לנו בכל עת." }
  };
  function pick(l) { l = (l || "").toLowerCase().slice(0, 2); return T[l] ? l : ""; }
  var LANG = pick(d.locale) || pick(navigator.language) || "en", S = T[LANG];
  function t(k, a) { return S[k].replace("{0}", a == null ? "" : a); }
  var USER = d.userHash ? { id: d.userId || "", email: d.userEmail || "", name: d.userName || "", hash: d.userHash } : null;
  var STORE = "ascolto-chat:" + KEY + ":" + (USER ? USER.id || USER.email : "anon");
  function load() { try { return localStorage.getItem(STORE) || ""; } catch (e) { return ""; } }
  function keep(v) { try { v ? localStorage.setItem(STORE, v) : localStorage.removeItem(STORE); } catch (e) { /* private mode */ } }
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16)); b[6] = b[6] & 15 | 64; b[8] = b[8] & 63 | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function el(tag, attrs, kids) {
    var n = document.createElement(tag);
    for (var k in attrs || {}) { if (k === "text") n.textContent = attrs[k]; else n.setAttribute(k, attrs[k]); }
    (kids || []).forEach(function (c) { if (c) n.appendChild(c); });
    return n;
  }

  var CSS = ":host{all:initial}*{box-sizing:border-box;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif}" +
    ".w{--ac:#0f766e;position:fixed;inset-block-end:20px;inset-inline-end:20px;z-index:2147483000;color:#1f2937}" +
    "button{cursor:pointer;font-weight:600}:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}" +
    ".l{inline-size:60px;block-size:60px;border-radius:50%;border:0;background:var(--ac);color:#fff;box-shadow:0 4px 14px #0004;position:relative}" +
    ".l svg{inline-size:28px;block-size:28px;fill:currentColor}" +
    ".b{position:absolute;inset-block-start:-4px;inset-inline-end:-4px;background:#dc2626;color:#fff;border-radius:10px;min-inline-size:20px;padding:0 5px;font-size:12px;line-height:20px}" +
    ".p{position:absolute;inset-block-end:76px;inset-inline-end:0;inline-size:370px;block-size:min(600px,calc(100vh - 110px));background:#fff;border-radius:14px;box-shadow:0 10px 40px #0005;display:flex;flex-direction:column;overflow:hidden}" +
    "[hidden]{display:none!important}.h{background:var(--ac);color:#fff;padding:12px 14px;display:flex;align-items:center;gap:8px}" +
    ".h div{flex:1}.h h2{margin:0;font-size:16px}.h p{margin:0;font-size:13px;opacity:.92}" +
    ".x{background:transparent;border:0;color:#fff;font-size:24px;line-height:1;padding:4px 8px;border-radius:6px}" +
    ".g{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:6px;background:#f8fafc}" +
    ".m{max-inline-size:82%;padding:8px 11px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;border:1px solid #e5e7eb;align-self:flex-start}" +
    ".m.v{align-self:flex-end;background:var(--ac);color:#fff;border-color:transparent}.m.v a{color:#fff}" +
    ".m.s{align-self:center;background:transparent;border:0;color:#4b5563;font-size:13px;text-align:center}" +
    ".m small{display:block;font-size:11px;opacity:.8;margin-block-start:2px}.m.q{opacity:.6}.m img{max-inline-size:100%;border-radius:8px;display:block}" +
    ".a{font-size:12px;color:#4b5563;margin-block-end:2px}.v .a{display:none}" +
    ".y{min-block-size:20px;padding:0 14px;font-size:13px;color:#4b5563;background:#f8fafc}" +
    ".o{padding:10px 12px;background:#fffbeb;border-block-start:1px solid #fde68a;font-size:14px}.o form{display:flex;gap:6px;margin-block-start:6px}" +
    "input,textarea{flex:1;border:1px solid #9ca3af;border-radius:8px;padding:8px;color:#111827;background:#fff}" +
    ".c{display:flex;gap:6px;padding:10px;border-block-start:1px solid #e5e7eb;align-items:flex-end}" +
    ".c textarea{resize:none;block-size:42px;max-block-size:120px}" +
    ".s{background:var(--ac);color:#fff;border:0;border-radius:8px;padding:10px 14px}" +
    ".f{background:#fff;border:1px solid #9ca3af;border-radius:8px;padding:8px;color:#374151;line-height:0}.f svg{inline-size:22px;block-size:22px;fill:currentColor}" +
    ".sr{position:absolute;inline-size:1px;block-size:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
    ".m.d{align-self:stretch;max-inline-size:none;white-space:normal}.d ul{margin:4px 0 0;padding:0;list-style:none;display:flex;flex-direction:column;gap:8px}" +
    ".d li a{color:var(--ac);font-weight:600}.d li p{margin:2px 0 0;font-size:13px;color:#4b5563}" +
    ".r{display:flex;flex-wrap:wrap;gap:6px;margin-block-start:10px}.n{background:#fff;color:#1f2937;border:1px solid #9ca3af;border-radius:8px;padding:9px 13px}" +
    "@media (max-width:480px){.w.open{inset:0}.w.open .l{display:none}.p{position:fixed;inset:0;inline-size:auto;block-size:auto;border-radius:0}}" +
    "@media (prefers-reduced-motion:no-preference){.p{transition:opacity .15s}}";

  var host = el("div", { "data-ascolto-chat": "" });
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var wrap = el("div", { class: "w", dir: LANG === "he" ? "rtl" : "ltr", lang: LANG });
  var badge = el("span", { class: "b", hidden: "" });
  var launcher = el("button", { class: "l", type: "button", "aria-label": t("open"), "aria-expanded": "false", "aria-controls": "ascolto-chat-panel" });
  launcher.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';
  launcher.appendChild(badge);
  var title = el("h2", { id: "ascolto-chat-title", text: t("title") });
  var status = el("p", { text: "" });
  var closeBtn = el("button", { class: "x", type: "button", "aria-label": t("close"), text: "×" });
  var log = el("div", { class: "g", role: "log", "aria-live": "polite", "aria-relevant": "additions", tabindex: "0", "aria-label": t("title") });
  var typingEl = el("div", { class: "y", role: "status", "aria-live": "polite" });
  var emailInput = el("input", { type: "email", id: "ascolto-chat-email", autocomplete: "email", required: "" });
  var emailForm = el("form", {}, [el("label", { class: "sr", for: "ascolto-chat-email", text: t("email") }), emailInput, el("button", { class: "s", type: "submit", text: t("save") })]);
  var offlineText = el("p", { style: "margin:0" });
  var offline = el("div", { class: "o", hidden: "" }, [offlineText, emailForm]);
  var box = el("textarea", { id: "ascolto-chat-input", rows: "1", placeholder: t("placeholder"), maxlength: "5000" });
  var fileInput = el("input", { type: "file", id: "ascolto-chat-file", class: "sr", tabindex: "-1" });
  var attachBtn = el("button", { class: "f", type: "button", "aria-label": t("attach"), title: t("attach") });
  attachBtn.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M16.5 6v11.5a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10.5a1 1 0 0 1-2 0V6H10v9.5a2.5 2.5 0 0 0 5 0V5a4 4 0 0 0-8 0v12.5a5.5 5.5 0 0 0 11 0V6z"/></svg>';
  var form = el("form", { class: "c" }, [el("label", { class: "sr", for: "ascolto-chat-input", text: t("message") }), attachBtn, fileInput, box, el("button", { class: "s", type: "submit", text: t("send") })]);
  var panel = el("div", { class: "p", id: "ascolto-chat-panel", role: "dialog", "aria-modal": "true", "aria-labelledby": "ascolto-chat-title", hidden: "" },
    [el("div", { class: "h" }, [el("div", {}, [title, status]), closeBtn]), log, typingEl, offline, form]);
  root.appendChild(el("style", { text: CSS }));
  wrap.appendChild(panel); wrap.appendChild(launcher); root.appendChild(wrap);

  var cfg = null, ws = null, token = load(), lastId = 0, attempt = 0, welcomed = false, stopped = false;
  var held = null, started = false, emailToSave = "";
  var seen = {}, pending = {}, unread = 0, typingTimer = 0, typingSent = 0, agentTypingTimer = 0, online = true, expect = "", savedEmail = "";
  var timeFmt = new Intl.DateTimeFormat(LANG, { hour: "2-digit", minute: "2-digit" });

  function isOpen() { return !panel.hidden; }
  function open() {
    panel.hidden = false; wrap.classList.add("open"); launcher.setAttribute("aria-expanded", "true");
    unread = 0; badge.hidden = true; box.focus(); log.scrollTop = log.scrollHeight; read();
  }
  function close() { panel.hidden = true; wrap.classList.remove("open"); launcher.setAttribute("aria-expanded", "false"); launcher.focus(); }
  launcher.addEventListener("click", function () { isOpen() ? close() : open(); });
  closeBtn.addEventListener("click", close);
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { e.preventDefault(); close(); return; }
    if (e.key !== "Tab") return;
    var f = Array.prototype.filter.call(panel.querySelectorAll("button,textarea,input,a[href],[tabindex='0']"), function (n) {
      return !n.disabled && n.tabIndex >= 0 && n.offsetParent !== null;
    });
    var first = f[0], last = f[f.length - 1], active = root.activeElement || document.activeElement;
    if (e.shiftKey && active === first) { e.preventDefault(); last.focus(); } else if (!e.shiftKey && active === last) { e.preventDefault(); first.focus(); }
  });

  function linkify(node, text) {
    var re = /\bhttps?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]]/g, at = 0, m;
    while ((m = re.exec(text))) {
      node.appendChild(document.createTextNode(text.slice(at, m.index)));
      node.appendChild(el("a", { href: m[0], target: "_blank", rel: "noopener noreferrer nofollow", text: m[0] }));
      at = m.index + m[0].length;
    }
    node.appendChild(document.createTextNode(text.slice(at)));
  }
  function bubble(m) {
    var kind = m.kind === "visitor" ? "v" : m.kind === "system" ? "s" : "", n = el("div", { class: "m " + kind });
    if (m.author && kind === "") n.appendChild(el("div", { class: "a", text: m.author }));
    var body = el("div", { dir: "auto" }); linkify(body, m.text || ""); n.appendChild(body);
    (m.attachments || []).forEach(function (a) {
      var url = new URL(a.url, BASE).href;
      if (/^image\//.test(a.content_type)) n.appendChild(el("a", { href: url, target: "_blank", rel: "noopener" }, [el("img", { src: url, alt: a.name })]));
      else n.appendChild(el("a", { href: url, target: "_blank", rel: "noopener", text: a.name }));
    });
    var when = m.created_at ? timeFmt.format(new Date(m.created_at)) : "";
    n.appendChild(el("small", { text: (kind === "v" ? t("you") + " · " : "") + when }));
    return n;
  }
  function add(m) {
    if (m.conversation_id) started = true;
    if (seen[m.id]) return;
    var p = m.client_id && pending[m.client_id], n = bubble(m);
    seen[m.id] = n; lastId = Math.max(lastId, m.id);
    if (p) { log.replaceChild(n, p.el); delete pending[m.client_id]; } else log.appendChild(n);
    log.scrollTop = log.scrollHeight;
    if (m.kind !== "visitor" && m.id > 0) {
      typingEl.textContent = "";
      if (!isOpen()) { unread++; badge.textContent = unread; badge.hidden = false; launcher.setAttribute("aria-label", t("open") + " — " + t("unread", unread)); }
      else read();
    }
  }
  function release() {
    if (!held) return;
    var h = held; held = null; started = true; clearTimeout(h.timer);
    if (h.row) h.row.remove();
    pending[h.id] = { text: h.text, el: h.el };
    send({ type: "message", client_id: h.id, text: h.text });
  }
  function offer(f) {
    var h = held, list = el("ul", {});
    f.articles.forEach(function (a) {
      list.appendChild(el("li", {}, [el("a", { href: new URL(a.url, BASE).href, target: "_blank", rel: "noopener", dir: "auto", text: a.title }),
        el("p", { dir: "auto", text: a.snippet })]));
    });
    var yes = el("button", { class: "s", type: "button", text: t("solved") }), no = el("button", { class: "n", type: "button", text: t("needHelp") });
    h.row = el("div", { class: "r" }, [yes, no]);
    log.appendChild(el("div", { class: "m d", role: "group", "aria-label": t("suggested") }, [el("div", { class: "a", text: t("suggested") }), list, h.row]));
    log.scrollTop = log.scrollHeight;
    yes.addEventListener("click", function () {
      if (held !== h || !send({ type: "deflected", offer_id: f.offer_id })) return;
      held = null; h.row.remove(); h.el.remove(); notice(t("glad")); box.focus();
    });
    no.addEventListener("click", function () { if (held === h) { release(); box.focus(); } });
  }
  function notice(text) { var n = el("div", { class: "m s", text: text }); log.appendChild(n); log.scrollTop = log.scrollHeight; return n; }

  function send(obj) { if (ws && ws.readyState === 1 && welcomed) { ws.send(JSON.stringify(obj)); return true; } return false; }
  function read() {
    if (isOpen() && document.visibilityState !== "hidden" && lastId) send({ type: "read", last_id: lastId });
  }
  document.addEventListener("visibilitychange", read);

  function setOnline(on, reply) {
    online = on;
    status.textContent = on ? t("online") : t("offline");
    if (on) { offline.hidden = true; return; }
    var msg = cfg && (cfg.offline_message[LANG] || cfg.offline_message.en);
    var when = reply && reply.next_open_at ? new Intl.DateTimeFormat(LANG, { weekday: "long", hour: "2-digit", minute: "2-digit" }).format(new Date(reply.next_open_at)) : "";
    expect = (msg ? msg + " " : "") + (when ? t("backAt", when) : reply && reply.open_now ? t("soon") : t("later"));
    offlineText.textContent = expect + " " + (savedEmail ? t("emailSaved", savedEmail) : t("emailAsk"));
    offline.hidden = false;
  }
  function emailSaved(email) {
    savedEmail = email; emailForm.hidden = true; offlineText.textContent = expect + " " + t("emailSaved", email);
  }

  function connect() {
    if (stopped) return;
    status.textContent = welcomed || attempt ? t("reconnecting") : status.textContent;
    welcomed = false;
    ws = new WebSocket(WS);
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "hello", token: token || null, last_id: lastId || null, locale: LANG, user: USER, page: location.href }));
    };
    ws.onmessage = function (e) {
      var f; try { f = JSON.parse(e.data); } catch (x) { return; }
      if (f.type === "welcome") {
        welcomed = true; attempt = 0; token = f.token; keep(token);
        if (!lastId && !f.messages.length) { var g = cfg && (cfg.greeting[LANG] || cfg.greeting.en); if (g) add({ id: -1, kind: "agent", text: g, author: cfg.title || "", attachments: [] }); }
        f.messages.forEach(add);
        setOnline(f.online, f.reply);
        if (f.visitor.email && !f.online) emailSaved(f.visitor.email);
        Object.keys(pending).forEach(function (id) { send({ type: "message", client_id: id, text: pending[id].text }); });
        if (held && !held.row) send({ type: "suggest", client_id: held.id, text: held.text });
        if (emailToSave && send({ type: "email", email: emailToSave })) emailToSave = "";
        read();
      } else if (f.type === "ack" || f.type === "message") add(f.message);
      else if (f.type === "sync") f.messages.forEach(add);
      else if (f.type === "suggestions") {
        if (!held || f.client_id !== held.id || held.row) return;
        clearTimeout(held.timer);
        if (f.articles.length) offer(f); else release();
      }
      else if (f.type === "typing") {
        typingEl.textContent = f.typing ? t("typing", f.author || t("someone")) : "";
        clearTimeout(agentTypingTimer);
        if (f.typing) agentTypingTimer = setTimeout(function () { typingEl.textContent = ""; }, 8000);
      } else if (f.type === "ended") {
        started = false;
        notice(t("ended"));
        var u = f.survey_url;
        if (u) { // survey part: loaded only when a chat ends with one
          var n = notice(""), sp = el("script", { src: BASE + "static/ascolto/chat-survey.js" });
          sp.onload = function () { window.ascoltoChatSurvey(n, u, LANG, el); };
          sp.onerror = function () { n.appendChild(el("a", { href: u, target: "_blank", text: t("more") })); };
          document.head.appendChild(sp);
        }
        window.dispatchEvent(new CustomEvent("ascolto:chat-ended", { detail: { conversation_id: f.conversation_id, survey_url: f.survey_url } }));
      } else if (f.type === "email_saved") emailSaved(f.email);
      else if (f.type === "error") {
        // Visitors read the widget's own texts, not the server's.
        if (held && f.client_id === held.id) return release(); // no suggestions: send it as today
        var p = f.client_id && pending[f.client_id];
        if (f.code === "invalid_token") { token = ""; keep(""); }
        else if (f.code === "rate_limited") { if (p) setTimeout(function () { if (pending[f.client_id]) send({ type: "message", client_id: f.client_id, text: p.text }); }, 3000); else notice(t("slow")); }
        else if (p) { p.el.remove(); delete pending[f.client_id]; notice(t("error")); }
        else if (f.code === "validation_failed") notice(t("badEmail"));
        else if (f.code !== "identity_rejected") notice(t("error"));
      }
    };
    ws.onclose = function (e) {
      welcomed = false;
      if (e.code === 4403 || e.code === 4404) { stopped = true; status.textContent = t("refused"); return; }
      if (e.code === 4401) { token = ""; keep(""); attempt = 0; return setTimeout(connect, 100); }
      status.textContent = t("reconnecting");
      var delay = Math.min(30000, 1000 * Math.pow(2, attempt++)) * (0.5 + Math.random() / 2);
      setTimeout(connect, e.code === 4429 ? Math.max(delay, 10000) : delay);
    };
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = box.value.trim();
    if (!text) return;
    release(); // writing again while articles are shown means they did not help
    var id = uuid(), n = bubble({ kind: "visitor", text: text, attachments: [] });
    n.classList.add("q"); log.appendChild(n); log.scrollTop = log.scrollHeight;
    box.value = ""; stopTyping();
    if (!started) {
      // No conversation yet: offer articles first (wait up to 5 s).
      held = { id: id, text: text, el: n, row: null, timer: setTimeout(release, 5000) };
      send({ type: "suggest", client_id: id, text: text }); // not connected yet: sent on welcome
      return;
    }
    pending[id] = { text: text, el: n };
    send({ type: "message", client_id: id, text: text });
  });
  box.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit")); }
  });
  box.addEventListener("input", function () {
    var now = Date.now();
    if (now - typingSent > 2000) { typingSent = now; send({ type: "typing", typing: true }); }
    clearTimeout(typingTimer); typingTimer = setTimeout(stopTyping, 3000);
  });
  function stopTyping() { clearTimeout(typingTimer); if (typingSent) { typingSent = 0; send({ type: "typing", typing: false }); } }
  emailForm.addEventListener("submit", function (e) {
    e.preventDefault();
    if (emailInput.value && !send({ type: "email", email: emailInput.value.trim() })) emailToSave = emailInput.value.trim();
  });
  attachBtn.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0]; fileInput.value = "";
    if (!file || !cfg) return;
    if (file.size > cfg.upload.max_bytes) return notice(t("tooBig"));
    if (cfg.upload.types.indexOf(file.type) < 0) return notice(t("badType"));
    var body = new FormData(), id = uuid(), n = notice(file.name + " …");
    body.append("token", token); body.append("client_id", id); body.append("locale", LANG); body.append("file", file);
    fetch(new URL(cfg.upload_url, BASE).href + "?key=" + encodeURIComponent(KEY), { method: "POST", body: body })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.detail || t("error")); return j; }); })
      .then(function (j) { n.remove(); add(j.message); })
      .catch(function (err) { n.textContent = err.message || t("error"); });
  });

  function start() {
    document.body.appendChild(host);
    fetch(BASE + "widget/config?key=" + encodeURIComponent(KEY)).then(function (r) {
      if (!r.ok) throw new Error("status " + r.status);
      return r.json();
    }).then(function (c) {
      cfg = c;
      if (/^#[0-9a-f]{6}$/i.test(c.color)) wrap.style.setProperty("--ac", c.color);
      if (c.title) title.textContent = c.title;
      setOnline(c.online, c.reply);
      connect();
      if (d.open === "true") open();
    }).catch(function (err) {
      host.remove();
      if (window.console) console.warn("Ascolto chat is not available here:", err.message);
    });
  }
  window.AscoltoChat = { open: open, close: close };
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
