/* Ascolto website intercept: asks a survey's first question (NPS/CSAT) to a share of visitors.
   <script src="https://cx.example.com/static/ascolto/intercept.js" data-survey="KEY" async
     data-delay="20" data-paths="/checkout/done,/orders" data-visitor="host-user-id"></script>
   No dependencies, no cookies: what was decided for this browser lives in localStorage. */
(function () {
  var s = document.currentScript;
  if (!s || !s.dataset.survey) return;
  var d = s.dataset, key = d.survey, STORE = "ascolto:intercept:" + key;
  var api = new URL("/s/intercept/" + encodeURIComponent(key) + "/", s.src).href;
  var paths = (d.paths || "").split(",").map(function (p) { return p.trim(); }).filter(Boolean);
  if (paths.length && !paths.some(function (p) { return location.pathname.indexOf(p) === 0; })) return;

  function get(k) { try { return JSON.parse(localStorage.getItem(k) || "null"); } catch (e) { return null; } }
  function put(k, v) { try { localStorage.setItem(k, JSON.stringify(v)); } catch (e) { /* private mode */ } }
  var seen = get(STORE);
  if (seen && seen.until > Date.now()) return; // asked, answered, closed or not sampled lately
  var visitor = d.visitor || get("ascolto:visitor");
  if (!visitor) {
    visitor = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now());
    put("ascolto:visitor", visitor);
  }
  var lang = (d.lang || document.documentElement.lang || navigator.language || "").slice(0, 2);

  function later(days) { put(STORE, { until: Date.now() + Math.max(days, 1) * 864e5 }); }
  function el(tag, text, css) { var n = document.createElement(tag); if (text != null) n.textContent = text; if (css) n.style.cssText = css; return n; }

  setTimeout(function () {
    fetch(api + "?visitor=" + encodeURIComponent(visitor) + "&lang=" + lang)
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) {
        if (!c) return;
        if (!c.ask) return later(c.days);
        // Sampled once a window, not on every page view, so the share holds.
        if (Math.random() >= c.share) return later(c.days);
        show(c);
      })
      .catch(function () { /* offline or blocked: ask another time */ });
  }, Math.max(0, +d.delay || 10) * 1000);

  function show(c) {
    var box = el("div", null, "position:fixed;inset-block-end:16px;inset-inline-end:16px;z-index:2147483000;" +
      "max-inline-size:360px;background:#fff;color:#1f2937;border-radius:12px;box-shadow:0 6px 24px #0003;" +
      "padding:16px;font:15px/1.4 system-ui,sans-serif");
    box.dir = c.dir; box.lang = c.lang;
    box.setAttribute("role", "dialog"); box.setAttribute("aria-label", c.title);
    var x = el("button", "×", "float:inline-end;border:0;background:none;font-size:20px;cursor:pointer");
    x.setAttribute("aria-label", c.close);
    x.onclick = function () { later(c.days); box.remove(); };
    var q = el("p", c.question, "margin:0 0 10px;font-weight:600");
    var row = el("div", null, "display:flex;flex-wrap:wrap;gap:4px");
    c.points.forEach(function (n) {
      var b = el("button", String(n), "min-inline-size:30px;padding:6px;border:1px solid #0f766e;border-radius:6px;" +
        "background:#fff;color:#0f766e;font-weight:600;cursor:pointer");
      b.onclick = function () { answer(n); };
      row.appendChild(b);
    });
    var ends = el("div", null, "display:flex;justify-content:space-between;font-size:12px;color:#4b5563;margin-top:4px");
    ends.appendChild(el("span", c.low)); ends.appendChild(el("span", c.high));
    box.appendChild(x); box.appendChild(q); box.appendChild(row); box.appendChild(ends);
    document.body.appendChild(box);

    function answer(n) {
      later(c.days);
      // text/plain keeps it a simple cross-origin request (no preflight).
      fetch(api, { method: "POST", headers: { "Content-Type": "text/plain" },
        body: JSON.stringify({ visitor: visitor, score: n, lang: c.lang, page: location.pathname }) })
        .catch(function () {});
      box.textContent = "";
      box.appendChild(el("p", c.thanks, "margin:0"));
      setTimeout(function () { box.remove(); }, 4000);
    }
  }
})();
