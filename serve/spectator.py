"""The spectator page: a browser view of live matches and a step-by-step replay of finished ones.

One static HTML page (``GET /`` and ``GET /spectate``) that reads only the public REST API:
``/api/v1/matches`` (live summaries), ``/api/v1/archive`` (finished and abandoned matches) and
``/api/v1/matches/{id}/report`` (the full record, served only after ``done``). It never sees hidden
information of a live match, because the API does not give it out. ``/#<match_id>`` opens one match.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FraudArena spectator</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font-family:system-ui,sans-serif;margin:0;display:flex;height:100vh;color:#222}
 #side{width:330px;border-right:1px solid #ddd;overflow:auto;padding:10px;background:#fafafa}
 #main{flex:1;overflow:auto;padding:14px}
 h1{font-size:18px;margin:4px 0 10px} h2{font-size:14px;margin:14px 0 6px;color:#555}
 .m{padding:6px;border-radius:6px;cursor:pointer;margin:3px 0;font-size:13px;border:1px solid #eee;background:#fff}
 .m:hover{background:#eef5ff} .muted{color:#888;font-size:12px}
 table{border-collapse:collapse;font-size:13px;width:100%} td,th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left}
 .fraud{color:#b00020} .legit{color:#0a7a2f} .gray{color:#8a6d00}
 .approve{background:#e8f7ec} .reject{background:#fde8ea} .escalate{background:#fff6d6}
 .slot{font-weight:600} #log{font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap;
 background:#f6f6f6;padding:8px;border-radius:6px;max-height:220px;overflow:auto}
 input[type=range]{width:60%}
</style></head>
<body>
<div id="side"><h1>FraudArena</h1>
 <div class="muted">Live matches refresh every 2 s. Finished matches replay move by move.</div>
 <h2>Live</h2><div id="live" class="muted">loading...</div>
 <h2>Finished</h2><div id="archive" class="muted">loading...</div></div>
<div id="main"><p>Pick a match on the left. Start one with
 <code>fraudarena play --new --task task_1</code> (you play the Investigator with a bot; the other seats are
 house bots), or connect your own agent to <code>/ws/investigator</code>.</p></div>
<script>
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
async function getJSON(url){ const r = await fetch(url); if(!r.ok) throw new Error(url+": "+r.status); return r.json(); }
function item(m, onclick){
  const d = document.createElement("div"); d.className = "m";
  d.innerHTML = `<b>${esc(m.match_id)}</b> <span class="muted">${esc(m.task_id||"")}</span><br>
   <span class="muted">${esc(m.status||m.phase||"")} · round ${esc(m.round_number ?? m.final_round ?? "")}
   ${m.grader_score!=null? " · grader "+Number(m.grader_score).toFixed(3):""}</span>`;
  d.onclick = () => { history.replaceState(null, "", "#"+encodeURIComponent(m.match_id)); onclick(); }; return d;
}
async function refresh(){
  try{
    const live = (await getJSON("api/v1/matches")).matches;
    const L = $("live"); L.innerHTML = live.length? "" : "none";
    live.forEach((m) => L.appendChild(item(m, () => showLive(m.match_id))));
    const arch = (await getJSON("api/v1/archive?limit=30")).matches;
    const A = $("archive"); A.innerHTML = arch.length? "" : "none yet";
    arch.forEach((m) => A.appendChild(item(m, () => showReport(m.match_id, m.status))));
  }catch(e){ console.warn(e); }
}
async function showLive(id){
  const m = await getJSON("api/v1/matches/"+encodeURIComponent(id));
  $("main").innerHTML = `<h1>${esc(id)} (live)</h1><pre id="log">${esc(JSON.stringify(m, null, 2))}</pre>
   <p class="muted">Live matches show public data only; the full record appears here when the match is done.</p>`;
}
async function showReport(id, status){
  if(status === "abandoned"){ $("main").innerHTML = `<h1>${esc(id)}</h1><p>Abandoned: no grades, no record to replay.</p>`; return; }
  const rep = await getJSON("api/v1/matches/"+encodeURIComponent(id)+"/report");
  const rec = rep.record; const acts = rec.actions;
  $("main").innerHTML = `<h1>${esc(id)} · ${esc(rec.config.task_id)} · ${esc(rec.end_reason)}</h1>
   <div>grader <b>${rec.grader.score.toFixed(3)}</b> · rewards ${Object.entries(rec.rewards).map(([k,v])=>esc(k)+" "+v.toFixed(3)).join(", ")}</div>
   <p>move <input id="t" type="range" min="0" max="${acts.length}" value="${acts.length}"> <span id="tn"></span></p>
   <div id="log"></div><h2>Queue</h2><div id="q"></div>`;
  const draw = () => {
    const t = Number($("t").value); $("tn").textContent = t+" / "+acts.length;
    const decided = {}, pulled = {}, published = new Set();
    let round = 1;
    acts.slice(0, t).forEach((e) => { round = e.round; const a = e.action;
      if(a.action_type === "verdict") decided[a.ad_id] = a.verdict;
      if(a.action_type === "investigate") (pulled[a.ad_id] = pulled[a.ad_id] || []).push(a.investigation_target); });
    const rows = rec.ads.filter((ad) => ad.arrived_round != null && (t === acts.length || ad.arrived_round <= round))
      .map((ad) => { const v = t === acts.length ? ad.final_verdict : (decided[ad.ad_id] || "pending");
        return `<tr class="${esc(v)}"><td>${esc(ad.ad_id)}</td><td class="${esc(ad.label)}">${esc(ad.label)}</td>
         <td class="slot">${ad.is_fraudster_proposal? "proposal "+ad.slot_index : ""}</td><td>${esc(ad.category)}</td>
         <td>${esc(ad.country)}</td><td>${esc((pulled[ad.ad_id]||[]).join(", "))}</td><td>${esc(v)}${ad.auto_approved && t===acts.length? " (auto)":""}</td>
         <td class="muted">${esc(ad.ad_copy)}</td></tr>`; }).join("");
    $("q").innerHTML = `<table><tr><th>ad</th><th>label</th><th></th><th>category</th><th>country</th><th>pulled</th><th>verdict</th><th>copy</th></tr>${rows}</table>`;
    $("log").textContent = acts.slice(Math.max(0, t-12), t).map((e) => `#${e.n} r${e.round} ${e.role}: ${JSON.stringify(e.action)}`).join("\\n");
  };
  $("t").oninput = draw; draw();
}
async function openHash(){
  const id = decodeURIComponent(location.hash.slice(1)); if(!id) return;
  try{ await showReport(id, "done"); }catch(e){ try{ await showLive(id); }catch(e2){ $("main").textContent = "unknown match "+id; } }
}
window.onhashchange = openHash;
refresh(); openHash(); setInterval(refresh, 2000);
</script></body></html>
"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
@router.get("/spectate", response_class=HTMLResponse, include_in_schema=False)
async def spectator_page() -> HTMLResponse:
    return HTMLResponse(PAGE)
