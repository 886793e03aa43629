// leconnect demo page: the agent workspace is the LiveEngage emulator's own
// (/emulator/workspace.js, following /emulator/api/ and its event stream);
// each phone follows /demo/api/phones/<channel>/events. No framework, no
// build step.
"use strict";

function $(id) { return document.getElementById(id); }
const { el, json: api } = LiveEngageWorkspace;

// ---- agent workspace ----

// The LiveEngage emulator's own workspace; the demo only adds a filter for
// its scripted consumers and shows the live figures in its header.
const TRAFFIC_OPENER = "Hi, where is my order #";
function isTraffic(c) {
  return LiveEngageWorkspace.consumerName(c).endsWith("(traffic)") ||
    (c.messages.length > 0 && c.messages[0].role === "CONSUMER" && c.messages[0].text.startsWith(TRAFFIC_OPENER));
}
function mountWorkspace(info) {
  LiveEngageWorkspace.mount($("workspace"), {
    api: "/emulator/api/",
    subtitle: "LiveEngage account " + info.accountId,
    empty: "Select a conversation, or type on a phone to start one.",
    hide: { label: "hide traffic", test: isTraffic },
    onRate: n => { $("live-rate").textContent = n + " ev/s"; },
    onOpen: n => { $("live-open").textContent = n + " open"; },
  });
}

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
      if (m.image) {
        const img = el("img");
        img.src = base + "/" + m.image;
        img.alt = "picture";
        b.prepend(img);
      }
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
  mountWorkspace(info);
  $("metrics-link").href = info.metricsUrl;
  $("traffic").checked = info.traffic;
  for (const p of info.phones) addPhone(p);
  metrics();
  setInterval(metrics, 2000);
}
start();
