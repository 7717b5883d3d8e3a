/*
 * Agent console behaviour on top of htmx: live updates from /ws/events/ with resync after a
 * dropped socket, presence (who else views or types) over /ws/inbox/, keyboard shortcuts,
 * the composer, saved filters (kept in this browser), and active handling time.
 * Every page of the console also works without it, as links and forms.
 */
(function () {
  "use strict";
  if (window.__ascoltoConsole || !document.getElementById("console") || !window.htmx) return;
  window.__ascoltoConsole = true;

  // A page from htmx's history cache would carry stale state: go back by reloading instead.
  htmx.config.historyCacheSize = 0;
  htmx.config.refreshOnHistoryMiss = true;

  var strings = JSON.parse(document.getElementById("console-strings").textContent);
  var csrf = (JSON.parse(document.body.getAttribute("hx-headers") || "{}") || {})["X-CSRFToken"];
  var HEARTBEAT_MS = 10000;
  var TYPING_EVERY_MS = 3000;
  var TYPING_SHOWN_MS = 6500;
  var SPAN_MAX_MS = 5 * 60 * 1000;

  function $(id) {
    return document.getElementById(id);
  }

  function root() {
    return $("console");
  }

  function fmt(template, values) {
    return String(template).replace(/%\((\w+)\)s/g, function (_, key) {
      return values[key] == null ? "" : String(values[key]);
    });
  }

  function announce(text) {
    var region = $("console-announcer");
    if (!region) return;
    region.textContent = "";
    window.setTimeout(function () {
      region.textContent = text;
    }, 50);
  }

  function isTypingField(element) {
    if (!element) return false;
    var tag = element.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable;
  }

  function socketUrl(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  // ---- The open conversation and its thread -------------------------------------------------

  function pane() {
    var element = $("conversation-pane");
    return element && element.dataset.conversationId ? element : null;
  }

  function openId() {
    var element = pane();
    return element ? Number(element.dataset.conversationId) : null;
  }

  function lastId(attribute) {
    var thread = $("thread-items");
    var highest = 0;
    if (!thread) return 0;
    thread.querySelectorAll("[" + attribute + "]").forEach(function (item) {
      highest = Math.max(highest, Number(item.getAttribute(attribute)) || 0);
    });
    return highest;
  }

  function nearEnd(element) {
    return element.scrollHeight - element.scrollTop - element.clientHeight < 120;
  }

  function tidyThread(scroll) {
    var thread = $("thread-items");
    if (!thread) return;
    var seen = {};
    thread.querySelectorAll("[data-message-id], [data-event-id]").forEach(function (item) {
      var key = item.hasAttribute("data-message-id")
        ? "m" + item.getAttribute("data-message-id")
        : "e" + item.getAttribute("data-event-id");
      if (seen[key]) item.remove();
      seen[key] = true;
    });
    if (scroll) thread.scrollTop = thread.scrollHeight;
  }

  // Requests about the open conversation say which thread items the page already has, so the
  // answer carries only what is new.
  document.addEventListener("htmx:configRequest", function (event) {
    var element = pane();
    if (!element) return;
    var base = element.dataset.tailUrl.replace(/tail\/$/, "");
    var path = event.detail.path || "";
    if (path.indexOf(base) !== 0 || path === base) return;
    event.detail.parameters["after"] = String(lastId("data-message-id"));
    event.detail.parameters["after_event"] = String(lastId("data-event-id"));
  });

  var tailBusy = false;
  var tailAgain = false;

  function fetchTail() {
    var element = pane();
    if (!element) return;
    if (tailBusy) {
      tailAgain = true;
      return;
    }
    tailBusy = true;
    var thread = $("thread-items");
    var stick = thread ? nearEnd(thread) : true;
    htmx
      .ajax("GET", element.dataset.tailUrl, { target: "#thread-items", swap: "beforeend" })
      .finally(function () {
        tailBusy = false;
        tidyThread(stick);
        if (tailAgain) {
          tailAgain = false;
          fetchTail();
        }
      });
  }

  var headTimer = null;

  function fetchHead() {
    var element = pane();
    var head = $("conversation-head");
    if (!element || !head) return;
    // Never pull the header from under someone using one of its menus.
    if (head.contains(document.activeElement) || head.querySelector("details[open]")) {
      window.clearTimeout(headTimer);
      headTimer = window.setTimeout(fetchHead, 2000);
      return;
    }
    htmx.ajax("GET", element.dataset.headUrl, { target: "#conversation-head", swap: "outerHTML" });
  }

  function updateDelivery(messageId, status) {
    var badge = document.querySelector("#message-" + messageId + " [data-delivery]");
    if (!badge) return;
    badge.className = "delivery delivery-" + status;
    badge.textContent = (strings.delivery || {})[status] || status;
  }

  // ---- The list -----------------------------------------------------------------------------

  var listUrl = root().dataset.listUrl;
  var countsUrl = root().dataset.countsUrl;
  var refreshing = false;
  var refreshTimer = null;

  function list() {
    return $("conversation-list");
  }

  function currentQuery() {
    var element = list();
    return element ? element.dataset.query || "" : "";
  }

  function markOpenRow() {
    var open = openId();
    document.querySelectorAll(".conv-link").forEach(function (link) {
      var row = link.closest("[data-conversation-id]");
      if (row && Number(row.dataset.conversationId) === open) {
        link.setAttribute("aria-current", "true");
      } else {
        link.removeAttribute("aria-current");
      }
    });
  }

  function scheduleRefresh() {
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(refreshList, 400);
  }

  function refreshList() {
    var element = list();
    var loaded = element ? element.querySelectorAll(".conv-row").length : 0;
    var limit = Math.min(100, Math.max(50, loaded));
    var query = currentQuery();
    var focused = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest(".conv-row")
      : null;
    var focusedId = focused ? focused.dataset.conversationId : null;
    refreshing = true;
    htmx
      .ajax("GET", listUrl + "?" + query + (query ? "&" : "") + "limit=" + limit, {
        target: "#conversation-list",
        swap: "outerHTML",
      })
      .finally(function () {
        refreshing = false;
        if (focusedId) {
          var again = document.querySelector('.conv-row[data-conversation-id="' + focusedId + '"] .conv-link');
          if (again) again.focus({ preventScroll: true });
        }
      });
    htmx.ajax("GET", countsUrl + "?" + query, { target: "#console-views", swap: "outerHTML" });
  }

  function afterListSwap() {
    var element = list();
    if (!element) return;
    markOpenRow();
    paintPresence();
    var form = $("list-filters");
    if (form) {
      form.elements.view.value = element.dataset.view || "mine";
      form.elements.channel.value = element.dataset.channel || "";
    }
    document.querySelectorAll("[data-view-link]").forEach(function (link) {
      var href = link.getAttribute("href") || "";
      var params = new URLSearchParams(href.split("?")[1] || "");
      var chosen =
        params.get("view") === (element.dataset.view || "mine") &&
        (params.get("channel") || "") === (element.dataset.channel || "");
      if (chosen) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    });
    if (element.dataset.syncedAt) syncedAt = element.dataset.syncedAt;
    if (!refreshing) {
      var query = element.dataset.query;
      history.replaceState(history.state, "", location.pathname + (query ? "?" + query : ""));
    }
  }

  // ---- Realtime: /ws/events/ with resync ----------------------------------------------------

  var syncedAt = root().dataset.syncedAt;
  var eventsBackoff = 1000;
  var eventsSocket = null;
  var pingTimer = null;

  function setOffline(offline) {
    var notice = $("console-offline");
    if (!notice) return;
    notice.hidden = !offline;
    notice.textContent = offline ? strings.offline : "";
  }

  function resync() {
    var url = root().dataset.changesUrl + "?since=" + encodeURIComponent(syncedAt);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (!data) return;
        syncedAt = data.now;
        var open = openId();
        if (data.conversation_ids.length || data.more) scheduleRefresh();
        if (open) {
          fetchTail();
          if (data.more || data.conversation_ids.indexOf(open) !== -1) fetchHead();
        }
      })
      .catch(function () {});
  }

  function onEvent(data) {
    if (String(data.workspace_id) !== root().dataset.workspace) return;
    var payload = data.payload || {};
    var open = openId();
    switch (data.event) {
      case "inbox.message.created":
        scheduleRefresh();
        if (payload.conversation_id === open) {
          fetchTail();
          if (payload.message && payload.message.kind === "inbound") announce(strings.newMessage);
        }
        break;
      case "inbox.conversation.created":
        scheduleRefresh();
        announce(fmt(strings.newConversation, { subject: payload.conversation.subject }));
        break;
      case "inbox.conversation.updated":
        scheduleRefresh();
        if (payload.conversation && payload.conversation.id === open) {
          fetchHead();
          fetchTail();
        }
        break;
      case "inbox.message.delivery":
        if (payload.conversation_id === open) updateDelivery(payload.message_id, payload.status);
        break;
      case "inbox.mention.created":
        if (String(payload.user_id) === root().dataset.user) scheduleRefresh();
        break;
      case "inbox.agent.availability":
        if (String(payload.user_id) === root().dataset.user) {
          // Changed in another tab: show the new state here too.
          document.querySelectorAll("#availability button[name=availability]").forEach(function (b) {
            var chosen = b.value === payload.availability;
            b.setAttribute("aria-pressed", chosen ? "true" : "false");
            if (!chosen) return;
            var label = document.querySelector("#availability [data-availability-label]");
            var dot = document.querySelector("#availability summary .dot");
            if (label) label.textContent = b.textContent.trim();
            if (dot) dot.className = "dot dot-" + b.value;
          });
        }
        break;
      default:
        break;
    }
  }

  function connectEvents() {
    eventsSocket = new WebSocket(socketUrl(root().dataset.eventsSocket));
    eventsSocket.onopen = function () {
      eventsBackoff = 1000;
      setOffline(false);
      resync();
      window.clearInterval(pingTimer);
      pingTimer = window.setInterval(function () {
        if (eventsSocket.readyState === WebSocket.OPEN) {
          eventsSocket.send(JSON.stringify({ type: "ping" }));
        }
      }, 25000);
    };
    eventsSocket.onmessage = function (message) {
      var data;
      try {
        data = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (data && data.event) onEvent(data);
    };
    eventsSocket.onclose = function () {
      window.clearInterval(pingTimer);
      setOffline(true);
      window.setTimeout(connectEvents, eventsBackoff);
      eventsBackoff = Math.min(eventsBackoff * 2, 30000);
    };
  }

  // ---- Presence: /ws/inbox/ -----------------------------------------------------------------

  var presenceSocket = null;
  var presenceBackoff = 1000;
  var presence = {};
  var typingTimer = null;
  var lastTypingSent = 0;

  function sendPresence(message) {
    if (presenceSocket && presenceSocket.readyState === WebSocket.OPEN) {
      presenceSocket.send(JSON.stringify(message));
    }
  }

  function sendViewing() {
    var open = openId();
    sendPresence(open ? { type: "viewing", conversation_id: open } : { type: "leave" });
  }

  function firstNames(agents) {
    return agents
      .map(function (agent) {
        return agent.name;
      })
      .join(", ");
  }

  function paintPresence() {
    Object.keys(presence).forEach(function (id) {
      var cell = document.querySelector('[data-presence-for="' + id + '"]');
      if (cell) cell.textContent = presence[id].length ? "● " + firstNames(presence[id]) : "";
    });
    var line = $("presence");
    var open = openId();
    if (!line) return;
    var agents = (open && presence[open]) || [];
    var typing = agents.filter(function (agent) {
      return agent.state === "typing";
    });
    var viewing = agents.filter(function (agent) {
      return agent.state !== "typing";
    });
    var parts = typing.map(function (agent) {
      return fmt(strings.typing, { name: agent.name });
    });
    if (viewing.length) parts.push(fmt(strings.viewing, { names: firstNames(viewing) }));
    line.textContent = parts.join(" · ");
    line.hidden = parts.length === 0;
  }

  function onPresence(data) {
    presence[data.conversation_id] = data.agents || [];
    paintPresence();
    var typing = (data.agents || []).some(function (agent) {
      return agent.state === "typing";
    });
    if (typing) {
      // Typing fades back to viewing unless another "typing" arrives.
      window.clearTimeout(typingTimer);
      typingTimer = window.setTimeout(function () {
        Object.keys(presence).forEach(function (id) {
          presence[id] = presence[id].map(function (agent) {
            return { user_id: agent.user_id, name: agent.name, state: "viewing" };
          });
        });
        paintPresence();
      }, TYPING_SHOWN_MS);
    }
  }

  function connectPresence() {
    presenceSocket = new WebSocket(socketUrl(root().dataset.presenceSocket));
    presenceSocket.onopen = function () {
      presenceBackoff = 1000;
      sendViewing();
    };
    presenceSocket.onmessage = function (message) {
      var data;
      try {
        data = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (data && data.type === "presence") onPresence(data);
    };
    presenceSocket.onclose = function () {
      window.setTimeout(connectPresence, presenceBackoff);
      presenceBackoff = Math.min(presenceBackoff * 2, 30000);
    };
  }

  window.setInterval(sendViewing, HEARTBEAT_MS);

  // ---- Active handling time -----------------------------------------------------------------

  var span = null;

  function handlingActive() {
    return Boolean(openId()) && document.visibilityState === "visible" && document.hasFocus();
  }

  function endSpan() {
    if (!span) return;
    var done = span;
    span = null;
    var ended = new Date();
    if (ended - done.started < 1000) return;
    var body = new FormData();
    body.append("started_at", done.started.toISOString());
    body.append("ended_at", ended.toISOString());
    fetch(done.url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      keepalive: true,
      headers: { "X-CSRFToken": csrf },
    }).catch(function () {});
  }

  function tickSpan() {
    var open = openId();
    if (span && (!handlingActive() || span.id !== open || new Date() - span.started > SPAN_MAX_MS)) {
      endSpan();
    }
    if (!span && handlingActive()) {
      span = { id: open, url: pane().dataset.handlingUrl, started: new Date() };
    }
  }

  window.addEventListener("focus", tickSpan);
  window.addEventListener("blur", tickSpan);
  document.addEventListener("visibilitychange", tickSpan);
  window.addEventListener("pagehide", endSpan);
  window.setInterval(tickSpan, 30000);

  // ---- Reacting to swaps --------------------------------------------------------------------

  var shownConversation = openId();
  var restoreFocus = null;

  document.addEventListener("htmx:beforeRequest", function (event) {
    var element = event.detail.elt;
    if (element && element.classList && element.classList.contains("conv-link")) {
      document.querySelectorAll(".conv-link[aria-current]").forEach(function (link) {
        link.removeAttribute("aria-current");
      });
      element.setAttribute("aria-current", "true");
    }
    var active = document.activeElement;
    restoreFocus = active && active.dataset ? active.dataset.action || null : null;
  });

  function afterPaneChange() {
    var open = openId();
    root().dataset.open = open || "";
    markOpenRow();
    tidyThread(true);
    sendViewing();
    paintPresence();
    tickSpan();
    var title = $("conversation-title");
    if (title && !isTypingField(document.activeElement)) title.focus({ preventScroll: true });
  }

  function afterSwap() {
    if (openId() !== shownConversation) {
      shownConversation = openId();
      afterPaneChange();
    } else {
      tidyThread(false);
    }
    if (restoreFocus) {
      var again = document.querySelector('#conversation-head [data-action="' + restoreFocus + '"]');
      if (again) again.focus();
      else if ($("conversation-title")) $("conversation-title").focus({ preventScroll: true });
      restoreFocus = null;
    }
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (target && target.id === "conversation-list") afterListSwap();
    if (target && target.id === "macro-preview") fillFromMacro();
    afterSwap();
  });
  document.addEventListener("htmx:oobAfterSwap", function () {
    tidyThread(false);
  });
  document.addEventListener("inbox-changed", scheduleRefresh);

  // ---- Composer -----------------------------------------------------------------------------

  function composer() {
    return $("composer");
  }

  function setMode(mode) {
    var form = composer();
    if (!form) return;
    form.dataset.mode = mode;
    var radio = form.querySelector('input[name=kind][value="' + mode + '"]');
    if (radio) radio.checked = true;
    var text = form.elements.text;
    text.placeholder = text.dataset["placeholder" + (mode === "note" ? "Note" : "Reply")];
    var label = form.querySelector('label[for="composer-text"]');
    if (label) label.textContent = label.dataset[mode === "note" ? "labelNote" : "labelReply"];
    var button = form.querySelector("button[type=submit]");
    button.textContent = button.dataset[mode === "note" ? "labelNote" : "labelReply"];
    if (mode === "note") clearMacro();
  }

  function clearMacro() {
    var form = composer();
    if (!form) return;
    if (form.elements.macro) form.elements.macro.value = "";
    var preview = $("macro-preview");
    if (preview) preview.innerHTML = "";
  }

  function fillFromMacro() {
    var data = $("macro-text");
    var form = composer();
    if (!data || !form) return;
    form.elements.text.value = JSON.parse(data.textContent);
    form.elements.text.focus();
  }

  function focusComposer(mode) {
    var form = composer();
    if (!form) return;
    setMode(mode);
    form.elements.text.focus();
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    var form = composer();
    if (!form || !form.contains(target)) return;
    if (target.name === "kind") setMode(target.value);
    if (target.name === "macro") {
      if (!target.value) return clearMacro();
      var url = target.dataset.previewUrl.replace(/0\/$/, target.value + "/");
      htmx.ajax("GET", url, { target: "#macro-preview", swap: "outerHTML" });
    }
    if (target.name === "files") {
      var chosen = $("composer-files-chosen");
      if (chosen) {
        chosen.textContent = target.files.length
          ? fmt(strings.filesChosen, { count: target.files.length })
          : "";
      }
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest && target.closest("[data-macro-clear]")) clearMacro();
    if (target.closest && target.closest("[data-shortcuts-open]")) $("shortcuts").showModal();
  });

  document.addEventListener("input", function (event) {
    var form = composer();
    if (!form || event.target !== form.elements.text) return;
    var now = Date.now();
    if (now - lastTypingSent > TYPING_EVERY_MS && openId()) {
      lastTypingSent = now;
      sendPresence({ type: "typing", conversation_id: openId() });
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = composer();
    if (!form || event.detail.elt !== form || !event.detail.successful) return;
    var mode = form.dataset.mode;
    form.reset();
    clearMacro();
    var chosen = $("composer-files-chosen");
    if (chosen) chosen.textContent = "";
    setMode(mode);
    form.elements.text.focus();
    tidyThread(true);
  });

  // ---- Keyboard -----------------------------------------------------------------------------

  var KEYS = { KeyJ: "j", KeyK: "k", KeyO: "o", KeyR: "r", KeyN: "n", KeyE: "e", KeyA: "a", KeyS: "s" };

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll(".conv-link"));
  }

  function moveCursor(step) {
    var links = rows();
    if (!links.length) return;
    var index = links.indexOf(document.activeElement);
    if (index === -1) index = links.indexOf(document.querySelector(".conv-link[aria-current]"));
    var next = index === -1 ? 0 : Math.min(links.length - 1, Math.max(0, index + step));
    links[next].focus();
    links[next].scrollIntoView({ block: "nearest" });
  }

  function press(selector) {
    var button = document.querySelector(selector);
    if (button) button.click();
  }

  function openMenu(name) {
    var menu = document.querySelector('#conversation-head details[data-menu="' + name + '"]');
    if (!menu) return;
    menu.open = true;
    var first = menu.querySelector(".menu-panel button, .menu-panel input, .menu-panel select");
    if (first) first.focus();
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var form = composer();
    if (form && target === form.elements.text) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      } else if (event.key === "Escape") {
        target.blur();
        if ($("conversation-title")) $("conversation-title").focus();
      }
      return;
    }
    if (event.key === "Escape") {
      document.querySelectorAll("details.menu[open]").forEach(function (menu) {
        menu.open = false;
        var summary = menu.querySelector("summary");
        if (summary && menu.contains(target)) summary.focus();
      });
      return;
    }
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (isTypingField(target) || document.querySelector("dialog[open]")) return;
    if (event.key === "?") {
      event.preventDefault();
      $("shortcuts").showModal();
      return;
    }
    var key = KEYS[event.code] || event.key;
    var actions = {
      j: function () {
        moveCursor(1);
      },
      k: function () {
        moveCursor(-1);
      },
      o: function () {
        var link = rows().indexOf(document.activeElement) !== -1 ? document.activeElement : null;
        if (link) link.click();
      },
      r: function () {
        focusComposer("reply");
      },
      n: function () {
        focusComposer("note");
      },
      e: function () {
        press('#conversation-head [data-action="resolve"]');
      },
      a: function () {
        press('#conversation-head [data-action="assign-me"]');
      },
      s: function () {
        openMenu("snooze");
      },
    };
    if (actions[key]) {
      event.preventDefault();
      actions[key]();
    }
  });

  // ---- Saved filters (this browser only) ----------------------------------------------------

  var STORE = "ascolto.console.filters." + root().dataset.workspace;

  function savedFilters() {
    try {
      var value = JSON.parse(window.localStorage.getItem(STORE) || "[]");
      return Array.isArray(value) ? value : [];
    } catch (error) {
      return [];
    }
  }

  function storeFilters(filters) {
    try {
      window.localStorage.setItem(STORE, JSON.stringify(filters));
    } catch (error) {
      /* storage full or disabled: the filters live until the page closes */
    }
  }

  function renderFilters() {
    var holder = $("saved-filters");
    if (!holder) return;
    holder.textContent = "";
    var filters = savedFilters();
    if (!filters.length) {
      var empty = document.createElement("li");
      empty.className = "saved-empty";
      empty.textContent = strings.noSavedFilters;
      holder.appendChild(empty);
    }
    filters.forEach(function (filter, index) {
      var item = document.createElement("li");
      item.className = "saved-filter";
      var link = document.createElement("a");
      link.className = "nav-link";
      link.href = root().dataset.consoleUrl + "?" + filter.query;
      link.setAttribute("hx-get", listUrl + "?" + filter.query);
      link.setAttribute("hx-target", "#conversation-list");
      link.setAttribute("hx-swap", "outerHTML");
      link.textContent = filter.name;
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "remove";
      remove.textContent = "×";
      remove.setAttribute("aria-label", fmt(strings.removeFilter, { name: filter.name }));
      remove.addEventListener("click", function () {
        var rest = savedFilters();
        rest.splice(index, 1);
        storeFilters(rest);
        renderFilters();
      });
      item.appendChild(link);
      item.appendChild(remove);
      holder.appendChild(item);
    });
    htmx.process(holder);
  }

  var saveForm = $("save-filter");
  if (saveForm) {
    saveForm.hidden = false;
    saveForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var input = $("save-filter-name");
      var name = input.value.trim();
      if (!name) return;
      var filters = savedFilters().filter(function (filter) {
        return filter.name !== name;
      });
      filters.push({ name: name, query: currentQuery() });
      storeFilters(filters);
      input.value = "";
      renderFilters();
    });
  }

  // ---- Start --------------------------------------------------------------------------------

  renderFilters();
  markOpenRow();
  tidyThread(true);
  tickSpan();
  connectEvents();
  connectPresence();
})();
