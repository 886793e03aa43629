// LiveEngage emulator agent workspace: conversations, messages, typing, read
// marks, quick-reply buttons, transfer, close and CSAT, driven only by the
// emulator's agent API (/emulator/api/) and its event stream. No framework,
// no build step. `leconnect emulator` serves it at /emulator/; the demo page
// mounts the same code beside its phones.
//
//   LiveEngageWorkspace.mount(element, {
//     api: "/emulator/api/",          // where the agent API lives
//     limit: 60,                      // newest conversations listed
//     hide: {label, test(conv)},      // optional "hide …" filter checkbox
//     onRate(n), onOpen(n),           // events per second, open conversations
//   });
"use strict";

(function () {
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  async function api(method, url, body) {
    const res = await fetch(url, {
      method, headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || res.statusText);
    return { data, res };
  }
  function time(ms) { return ms ? new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : ""; }

  // consumerName reads the name the connector set with SetUserProfile.
  function consumerName(c) {
    const p = c.userProfile || {};
    let first = p.firstName || "", last = p.lastName || "";
    const sdes = ((p.authenticatedData || {}).lp_sdes) || [];
    for (const s of sdes) {
      if (s.type === "personal" && s.personal) {
        first = first || s.personal.firstname || "";
        last = last || s.personal.lastname || "";
      }
    }
    const n = (first + " " + last).trim();
    return n || "consumer " + (c.consumerId || "").slice(0, 10);
  }

  function eventText(ev) {
    if (typeof ev.message === "string") return ev.message;
    if (ev.message && typeof ev.message === "object") return ev.message.caption || ev.message.relativePath || "[file]";
    return "";
  }

  function quickReplies(text) {
    const titles = text.split(",").map(s => s.trim()).filter(Boolean);
    if (!titles.length) return undefined;
    return {
      type: "quickReplies", itemsPerRow: 8,
      // Each reply carries click metadata, as bots' replies do: its ExternalId
      // comes back with the consumer's click.
      replies: titles.map(t => ({ type: "button", tooltip: t, title: t, click: {
        metadata: [{ type: "ExternalId", id: ("reply-" + t.toLowerCase().replace(/[^a-z0-9]+/g, "-")).slice(0, 64) }],
        actions: [{ type: "publishText", text: t }] } })),
    };
  }

  function skeleton(root, opts) {
    root.replaceChildren();
    const title = el("div", "pane-title", "Agent workspace ");
    title.append(el("span", "sub", opts.subtitle || "LiveEngage emulator"));
    const ws = el("div", "ws");
    const convs = el("div", "convs");
    const filter = el("div", "filter");
    if (opts.hide) {
      const label = el("label");
      const box = el("input");
      box.type = "checkbox";
      box.id = "hide-filter";
      label.append(box, " " + opts.hide.label);
      filter.append(label);
    } else {
      filter.hidden = true;
    }
    const list = el("div", "conv-list");
    list.id = "conv-list";
    convs.append(filter, list);

    const thread = el("div", "thread");
    thread.id = "thread";
    const head = el("div", "thread-head");
    head.id = "thread-head";
    head.append(el("span", "muted", opts.empty || "Select a conversation."));
    const msgs = el("div", "messages");
    msgs.id = "agent-messages";
    const typing = el("div", "typing", "consumer is typing…");
    typing.id = "consumer-typing";
    typing.hidden = true;
    const form = el("form", "composer");
    form.id = "agent-form";
    form.autocomplete = "off";
    form.hidden = true;
    const input = (id, ph) => { const i = el("input"); i.id = id; if (ph) i.placeholder = ph; return i; };
    const button = (id, text, type, cls) => { const b = el("button", cls || "", text); b.id = id; b.type = type; return b; };
    const tools = el("div", "tools");
    const skill = input("transfer-skill");
    skill.value = "2";
    skill.size = 4;
    skill.title = "skill id";
    tools.append(input("agent-qr", "quick replies, comma separated (e.g. Yes, No)"), skill,
      button("agent-transfer", "Transfer", "button"), button("agent-queue", "Back to queue", "button"),
      button("agent-close", "Close", "button", "danger"), button("agent-survey", "Close with survey", "button"));
    form.append(input("agent-text", "Reply as the agent…"), button("agent-send", "Send", "submit"), tools);
    // A closed conversation can be resumed: LiveEngage opens a new one for the consumer.
    const closed = el("div", "composer");
    closed.id = "agent-closed";
    closed.hidden = true;
    closed.append(button("agent-resume", "Resume conversation", "button"));
    thread.append(head, msgs, typing, form, closed);
    ws.append(convs, thread);
    root.append(title, ws);
  }

  function mount(root, opts) {
    opts = Object.assign({ api: "/emulator/api/", limit: 60 }, opts || {});
    skeleton(root, opts);
    const $ = sel => root.querySelector(sel);
    const base = opts.api;
    const state = { convs: [], selected: null, open: 0, lastTyping: 0 };
    const hidden = c => opts.hide && $("#hide-filter").checked && opts.hide.test(c);

    let refreshing = false, again = false;
    async function refresh() {
      if (refreshing) { again = true; return; }
      refreshing = true;
      try {
        const q = "?limit=" + opts.limit + (state.selected ? "&include=" + encodeURIComponent(state.selected) : "");
        const { data, res } = await api("GET", base + "conversations" + q);
        state.convs = data.reverse(); // newest first
        state.open = Number(res.headers.get("X-Open-Count") || data.filter(c => c.state === "OPEN").length);
        if (opts.onOpen) opts.onOpen(state.open);
        renderList();
        renderThread();
      } catch (e) { /* the next event retries */ }
      refreshing = false;
      if (again) { again = false; setTimeout(refresh, 50); }
    }

    function renderList() {
      // Newest first, open ones on top.
      const convs = state.convs.filter(c => !hidden(c));
      convs.sort((a, b) => (a.state === "OPEN" ? 0 : 1) - (b.state === "OPEN" ? 0 : 1));
      if (!state.selected) {
        const first = convs.find(c => c.state === "OPEN" && !(opts.hide && opts.hide.test(c)));
        if (first) state.selected = first.id;
      }
      $("#conv-list").replaceChildren(...convs.slice(0, opts.limit).map(c => {
        const d = el("div", "conv" + (c.id === state.selected ? " selected" : ""));
        d.dataset.id = c.id;
        const who = el("div", "who");
        who.append(el("span", "", consumerName(c)));
        const badges = el("span");
        if (c.csat) badges.append(el("span", "badge csat", "CSAT " + c.csat.csatRate));
        badges.append(el("span", "badge " + c.state, c.state === "OPEN" ? "open" : "closed"));
        who.append(badges);
        const last = c.messages.length ? c.messages[c.messages.length - 1] : null;
        d.append(who, el("div", "last", last ? (last.role === "CONSUMER" ? "" : "you: ") + last.text : ""));
        d.onclick = () => { state.selected = c.id; renderList(); renderThread(); };
        return d;
      }));
    }

    function renderThread() {
      const c = state.convs.find(x => x.id === state.selected);
      const head = $("#thread-head"), box = $("#agent-messages"), form = $("#agent-form");
      if (!c) { form.hidden = true; $("#agent-closed").hidden = true; return; }
      const stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 30;
      head.replaceChildren(el("b", "", consumerName(c)),
        el("span", "badge " + c.state, c.state === "OPEN" ? "open" : "closed"),
        el("span", "muted", "skill " + (c.skillId || "-") + (c.agentId ? " · assigned to you" : " · in queue")));
      if (c.csat) head.append(el("span", "badge csat", "CSAT " + c.csat.csatRate + "/5"));
      // The SDEs the connector sent with the conversation, as an agent sees them.
      const sdes = (((c.userProfile || {}).authenticatedData || {}).lp_sdes || []).map(s => {
        const p = s.personal || {}, i = s.info || {};
        const contacts = (p.contacts || []).flatMap(x => [x.email, x.phone]);
        return [p.firstname, p.lastname, p.gender, p.language, ...contacts, ...Object.values(s.type === "ctmrinfo" ? i : {})]
          .filter(Boolean).join(" · ");
      }).filter(Boolean);
      if (sdes.length) { const s = el("span", "muted sdes", sdes.join(" · ")); s.title = "SDEs"; head.append(s); }
      head.dataset.id = c.id;
      head.dataset.state = c.state;

      // Receipts the consumer's side sent, per agent message sequence.
      const receipt = {};
      let consumerTyping = false, agentReadUpTo = -1, lastConsumerSeq = -1;
      for (const r of c.events) {
        const ev = r.event || {};
        if (ev.type === "AcceptStatusEvent") {
          for (const s of ev.sequenceList || []) {
            if (r.role === "CONSUMER") {
              if (ev.status === "READ" || receipt[s] !== "READ") receipt[s] = ev.status;
            } else if (ev.status === "READ") {
              agentReadUpTo = Math.max(agentReadUpTo, s);
            }
          }
        } else if (ev.type === "ChatStateEvent" && r.role === "CONSUMER") {
          consumerTyping = ev.chatState === "COMPOSING";
        } else if (ev.type === "ContentEvent" && r.role === "CONSUMER") {
          consumerTyping = false;
          lastConsumerSeq = r.sequence;
        }
      }
      const items = [];
      let dialog = "";
      for (const r of c.events) {
        const ev = r.event || {};
        if (r.dialogId !== dialog) {
          const d = (c.dialogs || []).find(x => x.dialogId === r.dialogId);
          if (dialog && d && d.dialogType === "POST_SURVEY") items.push(el("div", "system", "— survey —"));
          dialog = r.dialogId;
        }
        // Metadata the request carried (a click's ExternalId, for one).
        const ids = (r.metadata || []).filter(m => m && m.type === "ExternalId").map(m => m.id);
        if (ev.type === "AcceptStatusEvent" && ev.status === "ACTION" && r.role === "CONSUMER") {
          const a = el("div", "system action", "clicked" + (ids.length ? " " + ids.join(", ") : ""));
          a.dataset.metadata = JSON.stringify(r.metadata || []);
          items.push(a);
          continue;
        }
        if (ev.type !== "ContentEvent" && ev.type !== "RichContentEvent") continue;
        const m = el("div", "msg " + r.role, ev.type === "ContentEvent" ? eventText(ev) : "[structured content]");
        m.dataset.seq = r.sequence;
        if (ev.quickReplies && ev.quickReplies.replies) {
          const qr = el("div", "qr");
          for (const b of ev.quickReplies.replies) qr.append(el("span", "", b.title || ""));
          m.append(qr);
        }
        if (r.metadata) m.dataset.metadata = JSON.stringify(r.metadata);
        let meta = time(r.serverTimestamp) + (ids.length ? " · " + ids.join(", ") : "");
        if (r.role === "ASSIGNED_AGENT") meta += receipt[r.sequence] === "READ" ? " ✓✓ read" : receipt[r.sequence] ? " ✓✓" : " ✓";
        m.append(el("div", "meta", meta));
        items.push(m);
      }
      if (c.state === "CLOSE") items.push(el("div", "system", "conversation closed" + (c.closeReason ? " by " + c.closeReason.toLowerCase() : "")));
      box.replaceChildren(...items);
      if (stick) box.scrollTop = box.scrollHeight;
      $("#consumer-typing").hidden = !consumerTyping || c.state !== "OPEN";
      form.hidden = c.state !== "OPEN";
      $("#agent-closed").hidden = c.state === "OPEN";
      // Viewing the conversation reads it, as in the real workspace.
      // Channels without read receipts simply do not show it.
      if (c.state === "OPEN" && lastConsumerSeq > agentReadUpTo && c.agentId) {
        api("POST", base + "conversations/" + c.id + "/read", {}).catch(() => {});
      }
    }

    const conv = path => base + "conversations/" + encodeURIComponent(state.selected) + path;
    $("#agent-form").addEventListener("submit", async e => {
      e.preventDefault();
      const input = $("#agent-text"), qr = $("#agent-qr");
      const text = input.value.trim();
      if (!text || !state.selected) return;
      input.value = "";
      const body = { text };
      const q = quickReplies(qr.value);
      if (q) { body.quickReplies = q; qr.value = ""; }
      try { await api("POST", conv("/messages"), body); } catch (err) { alert("send failed: " + err.message); }
      refresh();
    });
    $("#agent-text").addEventListener("input", () => {
      // The agent's typing reaches the consumer where the channel shows it.
      const now = Date.now();
      if (!state.selected || now - state.lastTyping < 3000) return;
      state.lastTyping = now;
      api("POST", conv("/typing"), { chatState: "COMPOSING" }).catch(() => {});
    });
    $("#agent-close").addEventListener("click", async () => {
      if (!state.selected) return;
      try { await api("POST", conv("/close"), {}); } catch (err) { alert(err.message); }
      refresh();
    });
    $("#agent-transfer").addEventListener("click", async () => {
      if (!state.selected) return;
      try { await api("POST", conv("/transfer"), { skillId: $("#transfer-skill").value }); } catch (err) { alert(err.message); }
      refresh();
    });
    $("#agent-survey").addEventListener("click", async () => {
      if (!state.selected) return;
      try { await api("POST", conv("/close"), { survey: true }); } catch (err) { alert(err.message); }
      refresh();
    });
    $("#agent-queue").addEventListener("click", async () => {
      if (!state.selected) return;
      try { await api("POST", conv("/back-to-queue"), {}); } catch (err) { alert(err.message); }
      refresh();
    });
    $("#agent-resume").addEventListener("click", async () => {
      if (!state.selected) return;
      try {
        const resumed = await json("POST", conv("/resume"), {});
        state.selected = resumed.id;
      } catch (err) { alert(err.message); }
      refresh();
    });
    if (opts.hide) $("#hide-filter").addEventListener("change", renderList);

    // Every notification refreshes the workspace; the count feeds the
    // events-per-second figure.
    let eventsThisSecond = 0;
    const es = new EventSource(base + "events");
    es.addEventListener("notification", () => { eventsThisSecond++; refresh(); });
    es.onopen = refresh;
    setInterval(() => { if (opts.onRate) opts.onRate(eventsThisSecond); eventsThisSecond = 0; }, 1000);
    refresh();
    return { refresh };
  }

  // el and json are shared with pages that embed the workspace (the demo).
  const json = async (method, url, body) => (await api(method, url, body)).data;
  window.LiveEngageWorkspace = { mount, consumerName, el, json };
})();
