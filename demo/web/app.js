// leconnect demo page: the agent workspace follows the LiveEngage emulator's
// agent API (/emulator/api/) and its event stream; each phone follows
// /demo/api/phones/<channel>/events. No framework, no build step.
"use strict";

const le = "/emulator/api/";
const state = { convs: [], selected: null, trafficNames: new Set(), lastTyping: 0 };

function $(id) { return document.getElementById(id); }
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
  return data;
}
function time(ms) { return ms ? new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : ""; }

// ---- agent workspace ----

// consumerName reads the name the core set with SetUserProfile.
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
function isTraffic(c) { return consumerName(c).endsWith("(traffic)"); }

function eventText(ev) {
  if (typeof ev.message === "string") return ev.message;
  if (ev.message && typeof ev.message === "object") return ev.message.caption || ev.message.relativePath || "[file]";
  return "";
}

let refreshing = false, again = false;
async function refresh() {
  if (refreshing) { again = true; return; }
  refreshing = true;
  try {
    const q = "?limit=60" + (state.selected ? "&include=" + encodeURIComponent(state.selected) : "");
    const res = await api("GET", "/demo/api/conversations" + q);
    state.convs = res.conversations;
    state.open = res.open;
    renderList();
    renderThread();
  } catch (e) { /* the next event retries */ }
  refreshing = false;
  if (again) { again = false; setTimeout(refresh, 50); }
}

function renderList() {
  const list = $("conv-list");
  const hide = $("hide-traffic").checked;
  // Newest first (as served), open ones on top.
  const convs = state.convs.filter(c => !hide || !isTraffic(c));
  convs.sort((a, b) => (a.state === "OPEN" ? 0 : 1) - (b.state === "OPEN" ? 0 : 1));
  $("live-open").textContent = state.open + " open";
  if (!state.selected) {
    const first = convs.find(c => c.state === "OPEN" && !isTraffic(c));
    if (first) state.selected = first.id;
  }
  list.replaceChildren(...convs.slice(0, 60).map(c => {
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
  const head = $("thread-head"), box = $("agent-messages"), form = $("agent-form");
  if (!c) { form.hidden = true; return; }
  const stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 30;
  head.replaceChildren(el("b", "", consumerName(c)),
    el("span", "badge " + c.state, c.state === "OPEN" ? "open" : "closed"),
    el("span", "muted", "skill " + (c.skillId || "-") + (c.agentId ? " · assigned to you" : " · in queue")));
  if (c.csat) head.append(el("span", "badge csat", "CSAT " + c.csat.csatRate + "/5"));
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
    if (ev.type !== "ContentEvent" && ev.type !== "RichContentEvent") continue;
    const m = el("div", "msg " + r.role, ev.type === "ContentEvent" ? eventText(ev) : "[structured content]");
    m.dataset.seq = r.sequence;
    if (ev.quickReplies && ev.quickReplies.replies) {
      const qr = el("div", "qr");
      for (const b of ev.quickReplies.replies) qr.append(el("span", "", b.title || ""));
      m.append(qr);
    }
    let meta = time(r.serverTimestamp);
    if (r.role === "ASSIGNED_AGENT") meta += receipt[r.sequence] === "READ" ? " ✓✓ read" : receipt[r.sequence] ? " ✓✓" : " ✓";
    m.append(el("div", "meta", meta));
    items.push(m);
  }
  if (c.state === "CLOSE") items.push(el("div", "system", "conversation closed" + (c.closeReason ? " by " + c.closeReason.toLowerCase() : "")));
  box.replaceChildren(...items);
  if (stick) box.scrollTop = box.scrollHeight;
  $("consumer-typing").hidden = !consumerTyping || c.state !== "OPEN";
  form.hidden = c.state !== "OPEN";
  // Viewing the conversation reads it, as in the real workspace. Channels
  // without read receipts (Telegram) simply do not show it.
  if (c.state === "OPEN" && lastConsumerSeq > agentReadUpTo && c.agentId) {
    api("POST", le + "conversations/" + c.id + "/read", {}).catch(() => {});
  }
}

function quickReplies(text) {
  const titles = text.split(",").map(s => s.trim()).filter(Boolean);
  if (!titles.length) return undefined;
  return {
    type: "quickReplies", itemsPerRow: 8,
    replies: titles.map(t => ({ type: "button", tooltip: t, title: t, click: { actions: [{ type: "publishText", text: t }] } })),
  };
}

$("agent-form").addEventListener("submit", async e => {
  e.preventDefault();
  const input = $("agent-text"), qr = $("agent-qr");
  const text = input.value.trim();
  if (!text || !state.selected) return;
  input.value = "";
  const body = { text };
  const q = quickReplies(qr.value);
  if (q) { body.quickReplies = q; qr.value = ""; }
  try { await api("POST", le + "conversations/" + state.selected + "/messages", body); }
  catch (err) { alert("send failed: " + err.message); }
  refresh();
});
$("agent-text").addEventListener("input", () => {
  // The agent's typing reaches the phone; Telegram shows it for 5 s.
  const now = Date.now();
  if (!state.selected || now - state.lastTyping < 3000) return;
  state.lastTyping = now;
  api("POST", le + "conversations/" + state.selected + "/typing", { chatState: "COMPOSING" }).catch(() => {});
});
$("agent-close").addEventListener("click", async () => {
  if (!state.selected) return;
  try { await api("POST", le + "conversations/" + state.selected + "/close", {}); } catch (err) { alert(err.message); }
  refresh();
});
$("agent-transfer").addEventListener("click", async () => {
  if (!state.selected) return;
  try { await api("POST", le + "conversations/" + state.selected + "/transfer", { skillId: $("transfer-skill").value }); }
  catch (err) { alert(err.message); }
  refresh();
});
$("hide-traffic").addEventListener("change", renderList);

// Live events: every LiveEngage notification refreshes the workspace; the
// count feeds the events-per-second figure.
let eventsThisSecond = 0;
function followLiveEngage() {
  const es = new EventSource(le + "events");
  es.addEventListener("notification", () => { eventsThisSecond++; refresh(); });
  es.onopen = refresh;
}
setInterval(() => { $("live-rate").textContent = eventsThisSecond + " ev/s"; eventsThisSecond = 0; }, 1000);

// ---- phones ----

function addPhone(info) {
  const node = $("phone-template").content.firstElementChild.cloneNode(true);
  node.dataset.channel = info.channel;
  node.querySelector(".phone-channel").textContent = info.title;
  node.querySelector(".phone-user").textContent = info.user;
  $("phones").append(node);
  const base = "/demo/api/phones/" + encodeURIComponent(info.channel);
  const msgs = node.querySelector(".phone-msgs"), typing = node.querySelector(".phone-typing");
  let typingTimer = 0;
  function render(t) {
    msgs.replaceChildren(...t.messages.map(m => {
      const b = el("div", "bubble " + m.from, m.text);
      b.dataset.id = m.id;
      if (m.buttons && m.buttons.length) {
        const row = el("div", "buttons");
        for (const btn of m.buttons) {
          const x = el("button", "", btn.text);
          x.type = "button";
          x.onclick = () => api("POST", base + "/press", { messageId: m.id, data: btn.data }).then(render).catch(err => alert(err.message));
          row.append(x);
        }
        b.append(row);
      }
      return b;
    }));
    msgs.scrollTop = msgs.scrollHeight;
    clearTimeout(typingTimer);
    const left = t.typingUntil - Date.now();
    typing.hidden = left <= 0;
    if (left > 0) typingTimer = setTimeout(() => { typing.hidden = true; }, left);
  }
  new EventSource(base + "/events").addEventListener("timeline", e => render(JSON.parse(e.data)));
  node.querySelector(".phone-form").addEventListener("submit", async e => {
    e.preventDefault();
    const input = node.querySelector(".phone-input");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    try { render(await api("POST", base + "/send", { text })); } catch (err) { alert("send failed: " + err.message); }
  });
}

// ---- traffic and metrics ----

$("traffic").addEventListener("change", e => api("POST", "/demo/api/traffic", { on: e.target.checked }).catch(() => {}));

async function metrics() {
  try {
    const list = await api("GET", "/demo/api/metrics");
    $("metrics").replaceChildren(...list.map(m => {
      const d = el("div");
      d.append(el("span", "", m.name.replace(/^leconnect_/, "")), el("b", "", String(Math.round(m.value * 1000) / 1000)));
      return d;
    }));
  } catch (e) { /* shown again on the next tick */ }
}

async function start() {
  const info = await api("GET", "/demo/api/info");
  $("account").textContent = info.accountId;
  $("metrics-link").href = info.metricsUrl;
  $("traffic").checked = info.traffic;
  for (const p of info.phones) addPhone(p);
  followLiveEngage();
  metrics();
  setInterval(metrics, 2000);
}
start();
