package liveengage

import "net/http"

// apiPage serves a minimal agent console at /emulator/: it follows the SSE
// stream, lists conversations and lets a person answer as the agent.
func (e *Emulator) apiPage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/emulator/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(consolePage))
}

const consolePage = `<!doctype html>
<html><head><meta charset="utf-8"><title>LiveEngage emulator</title>
<style>body{font-family:sans-serif;margin:1em}.c{border:1px solid #ccc;margin:.5em 0;padding:.5em}
.CONSUMER{color:#064}.ASSIGNED_AGENT{color:#036;text-align:right}</style></head>
<body><h1>LiveEngage emulator: agent console</h1><div id="list"></div>
<script>
const api = "/emulator/api/";
async function post(path, body) {
  await fetch(api + path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body || {})});
}
function esc(s) { const d = document.createElement("div"); d.textContent = s; return d.innerHTML; }
async function refresh() {
  const convs = await (await fetch(api + "conversations")).json();
  document.getElementById("list").innerHTML = convs.map(c =>
    '<div class="c"><b>' + esc(c.id) + '</b> ' + c.state + ' consumer ' + esc(c.consumerId) + ' skill ' + esc(c.skillId) +
    (c.csat ? ' CSAT ' + c.csat.csatRate : '') +
    c.messages.map(m => '<div class="' + m.role + '">#' + m.sequence + ' ' + esc(m.text) + '</div>').join("") +
    (c.state === "OPEN" ? '<form onsubmit="event.preventDefault();post(\'conversations/' + c.id +
      '/messages\',{text:this.t.value});this.t.value=\'\'"><input name="t" size="60"> <button>send</button> ' +
      '<button type="button" onclick="post(\'conversations/' + c.id + '/close\')">close</button> ' +
      '<button type="button" onclick="post(\'conversations/' + c.id + '/close\',{survey:true})">close with survey</button></form>' : '') +
    '</div>').join("");
}
new EventSource(api + "events").addEventListener("notification", refresh);
refresh();
</script></body></html>
`
