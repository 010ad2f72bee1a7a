/* The hub console's page logic: sign-in, the window panel's actions and the ~2 s state
 * poll that notices the hall going back online (then the page goes to the backend
 * console: one side decides at a time). All requests carry X-Requested-With, which the
 * hub requires on every POST (a cross-site page cannot send it without a preflight). */
(function () {
  "use strict";
  var HEADERS = { "Content-Type": "application/json", "X-Requested-With": "hub-console" };
  var body = document.body;
  var page = body.dataset.page;
  var pollMs = parseInt(body.dataset.pollMs, 10) || 2000;
  var flashArea = document.getElementById("flash");
  var banner = document.getElementById("banner");
  var lost = document.getElementById("hub-lost");

  function flash(text, level) {
    flashArea.textContent = "";
    if (!text) return;
    var div = document.createElement("div");
    div.className = "flash flash-" + (level || "success");
    div.setAttribute("role", level === "error" ? "alert" : "status");
    div.setAttribute("data-console-message", level || "success");
    div.textContent = text;
    flashArea.appendChild(div);
  }

  function showMode(mode, pending) {
    body.dataset.mode = mode;
    banner.className = "banner banner-" + mode;
    if (mode === "offline") banner.textContent = banner.dataset.textOffline;
    else if (mode === "replaying") banner.textContent = banner.dataset.textReplaying.split("{n}").join(String(pending));
    banner.hidden = mode !== "offline" && mode !== "replaying";
  }

  function post(path, payload) {
    return fetch(path, {
      method: "POST", headers: HEADERS, credentials: "same-origin",
      body: JSON.stringify(payload || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  }

  function errorText(data) {
    return (data && data.error && data.error.message) || "操作失败，请重试 / The action failed; try again";
  }

  // Going back to the backend console. The page does not change at once: a clerk whose
  // screen changed by itself under their hands would not know why (or whether the press
  // they just made counted), so a full-width banner says the centre is back, with a
  // link to where the page goes, for BACK_ONLINE_MS, and only then the page changes
  // (the backend console does the same the other way, backend/static/js/hub_redirect.js).
  var BACK_ONLINE_MS = 1500;
  var leaving = false;

  function goBackOnline(target) {
    if (leaving) return;
    leaving = true;
    body.dataset.leaving = "online";
    // Nothing more is pressed here: the centre decides now.
    document.querySelectorAll("button[data-action]").forEach(function (button) { button.disabled = true; });
    lost.hidden = true;
    flash("");  // the last action's answer would only distract now
    banner.className = "banner banner-online";
    banner.dataset.bannerMode = "online";
    banner.setAttribute("role", "alert");
    banner.textContent = "中心系统已恢复，正在转到中心窗口台 / the centre is back; going to the centre's console ";
    var link = document.createElement("a");
    link.href = target;
    link.setAttribute("data-online-link", "");
    link.textContent = "现在转到 / go now";
    banner.appendChild(link);
    banner.hidden = false;
    window.setTimeout(function () { window.location.assign(target); }, BACK_ONLINE_MS);
  }

  // Follows the hall's mode: online means the backend console decides again.
  function followMode(data) {
    if (data && data.mode === "online") {
      goBackOnline(data.redirect || window.location.href);
      return true;
    }
    return false;
  }

  function schedule(fn) { window.setTimeout(fn, pollMs); }

  // ------------------------------------------------------------------ sign-in page
  if (page === "sign-in") {
    var form = document.getElementById("sign-in-form");
    var windowSelect = form.querySelector('select[name="window"]');
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      post("/console/api/sign-in", {
        employee_no: form.employee_no.value.trim(),
        password: form.password.value,
        window: windowSelect.value || null
      }).then(function (reply) {
        if (reply.status === 200) { window.location.assign(reply.data.next || "/console/"); return; }
        if (reply.status === 409 && reply.data.error && reply.data.error.redirect) {
          window.location.assign(reply.data.error.redirect); return;
        }
        var windows = reply.data.error && reply.data.error.windows;
        if (windows && windows.length) {
          // Offer only the clerk's own windows, then the clerk submits again.
          Array.prototype.forEach.call(windowSelect.options, function (option) {
            option.hidden = option.value === "" || windows.indexOf(option.value) < 0;
          });
          if (windows.indexOf(windowSelect.value) < 0) windowSelect.value = windows[0];
          windowSelect.focus();
        }
        if (reply.status === 401) { form.password.value = ""; form.password.focus(); }
        flash(errorText(reply.data), "error");
      }).catch(function () {
        flash("大厅控制器没有应答 / The hall hub does not answer", "error");
      }).then(function () { button.disabled = false; });
    });
    var pollMode = function () {
      fetch("/console/mode", { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          lost.hidden = true;
          if (data.mode === "online") { window.location.reload(); return; }
          showMode(data.mode, data.pending);
        })
        .catch(function () { lost.hidden = false; })
        .then(function () { schedule(pollMode); });
    };
    schedule(pollMode);
    body.dataset.ready = "sign-in";
    return;
  }

  if (page !== "panel") return;

  // ------------------------------------------------------------------ window panel
  var root = document.querySelector(".console-grid");
  var busy = false;

  function render(view) {
    var current = root.querySelector("[data-current-ticket]");
    current.dataset.currentTicket = view.current || "";
    var number = document.getElementById("current-number");
    number.textContent = view.current || "—";
    number.classList.toggle("idle", !view.current);
    var state = root.querySelector("[data-window-state]");
    state.dataset.windowState = view.state;
    state.className = "badge state-" + view.state;
    state.textContent = view.state_label;
    var ticketState = root.querySelector("[data-ticket-state]");
    ticketState.dataset.ticketState = view.current_state || "";
    ticketState.textContent = view.current_state_label;
    ticketState.hidden = !view.current_state;
    root.querySelector("[data-recalls]").textContent = view.recall_count
      ? "已重呼 " + view.recall_count + "/" + view.recall_limit + " 次 / recalled " + view.recall_count + " of " + view.recall_limit
      : "";
    root.querySelector("[data-waiting]").textContent = String(view.waiting);
    root.querySelector("[data-served]").textContent = String(view.served);
    var list = root.querySelector("[data-next-up]");
    list.textContent = "";
    view.next_up.forEach(function (ticket) {
      var li = document.createElement("li");
      li.textContent = ticket;
      list.appendChild(li);
    });
    root.querySelector("[data-next-up-empty]").hidden = view.next_up.length > 0;
    root.querySelectorAll("button[data-action]").forEach(function (button) {
      button.disabled = busy || !view.enabled[button.dataset.action];
    });
    var resume = root.querySelector('button[data-action="resume"]');
    resume.hidden = !view.enabled.resume;
    // P: pause while open, resume while paused (the backend console's rule).
    var pause = document.getElementById("dlg-pause");
    pause.hidden = !view.enabled.pause;
    pause.setAttribute("data-hotkey-open", view.enabled.pause ? "p" : "");
    if (!view.enabled.pause) pause.open = false;
    document.querySelector('form[data-action-form="transfer"] button[type=submit]').disabled = !view.enabled.transfer;
    lastView = view;
  }

  var lastView = JSON.parse(document.getElementById("console-state").textContent).window;

  function act(payload) {
    if (busy || leaving) return;
    busy = true;
    render(lastView);  // every action button disabled until the answer: one press, one act
    post("/console/api/action", payload).then(function (reply) {
      busy = false;
      if (leaving) return;  // a poll said online meanwhile: its banner stays
      var data = reply.data;
      if (reply.status === 200) {
        render(data.window);
        showMode(data.mode, data.pending);
        flash(data.message, "success");
        if (data.ticket) document.getElementById("current-number").dataset.lastTicket = data.ticket;
        return;
      }
      if (reply.status === 401) { window.location.assign("/console/sign-in"); return; }
      if (reply.status === 409 && data.error && data.error.code === "use_backend_console") {
        goBackOnline(data.error.redirect); return;
      }
      render(lastView);
      flash(errorText(data), "error");
    }).catch(function () {
      busy = false;
      if (leaving) return;
      render(lastView);
      flash("大厅控制器没有应答，请重试 / The hall hub does not answer; try again", "error");
    });
  }

  root.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button || button.disabled) return;
    act({ action: button.dataset.action });
  });

  root.querySelectorAll("form[data-action-form]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var payload = { action: form.dataset.actionForm };
      var target = form.querySelector('[name="target_window"]');
      if (target) payload.target_window = target.value;
      var reason = form.querySelector('[name="reason"]');
      if (reason && reason.value.trim()) payload.reason = reason.value.trim();
      form.closest("details").open = false;
      form.reset();
      act(payload);
    });
  });

  document.getElementById("sign-out").addEventListener("click", function () {
    post("/console/api/sign-out", {}).then(function () { window.location.assign("/console/sign-in"); });
  });

  function poll() {
    fetch("/console/api/state", { credentials: "same-origin", headers: { "X-Requested-With": "hub-console" } })
      .then(function (response) {
        if (leaving) return null;  // an answer asked before the page started leaving
        if (response.status === 401) { window.location.assign("/console/sign-in"); return null; }
        return response.json();
      })
      .then(function (data) {
        if (leaving) return;
        lost.hidden = true;
        if (!data || followMode(data)) return;
        showMode(data.mode, data.pending);
        if (!busy) render(data.window);
      })
      .catch(function () { if (!leaving) lost.hidden = false; })
      .then(function () { schedule(poll); });
  }
  render(lastView);
  schedule(poll);
  // Keys and buttons work from here on (tests wait for it before pressing a key).
  body.dataset.ready = "panel";
})();
