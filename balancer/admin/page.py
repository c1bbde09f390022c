"""The live dashboard, ``GET /_lb/dashboard``: one self-contained page (inline CSS and script, no
external asset, so it works on a machine with no network). HAProxy's stats page and Traefik's
dashboard are the models: a tile per backend coloured by state, the totals, a throughput
sparkline with the events marked, and the events as they happen. The script reads
``/_lb/events`` (Server-Sent Events, ``live``) and redraws on every message; ``EventSource``
reconnects by itself when the balancer restarts.

Each tile carries ``data-name`` and ``data-state`` (up, down, draining, frozen), which is what
the browser test reads.
"""

from __future__ import annotations

PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>balancer dashboard</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#222}
header{background:#263238;color:#fff;padding:10px 18px;display:flex;gap:28px;align-items:baseline}
header h1{font-size:18px;margin:0 12px 0 0}
.figure b{font-size:20px}.figure span{opacity:.75;font-size:12px;margin-left:4px}
#conn{margin-left:auto;font-size:12px}#conn.live{color:#8bc34a}#conn.lost{color:#ff7043}
main{padding:14px 18px}
#tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:12px}
.tile{background:#fff;border-radius:6px;padding:10px 12px;border-top:6px solid #9e9e9e;
box-shadow:0 1px 2px rgba(0,0,0,.15)}
.tile h2{font-size:15px;margin:0 0 2px}.tile .url{font-size:11px;color:#777}
.tile .state{display:inline-block;margin:6px 0;padding:1px 8px;border-radius:9px;color:#fff;
font-size:12px;font-weight:600;text-transform:uppercase;background:#9e9e9e}
.tile dl{display:grid;grid-template-columns:auto auto;margin:0;font-size:12px;gap:1px 8px}
.tile dd{margin:0;text-align:right;font-variant-numeric:tabular-nums}
.tile[data-state=up]{border-color:#43a047}.tile[data-state=up] .state{background:#43a047}
.tile[data-state=down]{border-color:#e53935}.tile[data-state=down] .state{background:#e53935}
.tile[data-state=draining]{border-color:#fb8c00}
.tile[data-state=draining] .state{background:#fb8c00}
.tile[data-state=frozen]{border-color:#1e88e5}.tile[data-state=frozen] .state{background:#1e88e5}
.warm{font-size:11px;color:#fb8c00;margin-left:6px}
section{margin-top:16px;background:#fff;border-radius:6px;padding:10px 12px;
box-shadow:0 1px 2px rgba(0,0,0,.15)}
section h3{margin:0 0 6px;font-size:14px}
canvas{width:100%;height:110px;display:block}
#events{list-style:none;margin:0;padding:0;font-size:12px;max-height:260px;overflow:auto;
font-family:ui-monospace,monospace}
#events li{padding:2px 0;border-bottom:1px solid #eee}
.k-health{color:#6a1b9a}.k-pool{color:#00838f}.k-gone{color:#00838f}.k-chaos{color:#c62828}
</style></head><body>
<header><h1>balancer</h1>
<div class="figure"><b id="rps">-</b><span>req/s</span></div>
<div class="figure"><b id="inflight">-</b><span>in flight</span></div>
<div class="figure"><b id="retries">-</b><span>retries</span></div>
<div class="figure"><b id="retryrate">-</b><span>retries/s</span></div>
<div class="figure"><b id="nodes">-</b><span>up</span></div>
<div id="conn">connecting</div></header>
<main><div id="tiles"></div>
<section><h3>requests/s through the balancer (last 2 minutes; lines: events)</h3>
<canvas id="spark" width="1200" height="110"></canvas></section>
<section><h3>events</h3><ul id="events"></ul></section></main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const history = [];  // [time ms, req/s]
const marks = [];    // [time ms, kind]
const KEEP = 240;    // samples kept: 2 minutes at two a second
let lastSeq = 0;     // a reconnect replays recent events: show each once
function text(e) {
  if (e.kind === "health") return `${e.backend} ${e.from || ""} -> ${e.to} (${e.why})`;
  if (e.kind === "pool") return `pool (${e.source}): +[${e.added.join(", ")}] ` +
    `-[${e.removed.join(", ")}]`;
  if (e.kind === "gone") return `${e.backend} drained and removed`;
  if (e.kind === "chaos") return `chaos ${e.action} ${e.target || ""} ${e.signal || ""}`;
  return JSON.stringify(e);
}
function addEvents(events) {
  const list = $("events");
  for (const e of events) {
    if (e.seq <= lastSeq) continue;
    lastSeq = e.seq;
    const li = document.createElement("li");
    li.className = "k-" + e.kind;
    li.textContent = new Date(e.ts * 1000).toLocaleTimeString() + "  " + text(e);
    list.prepend(li);
    marks.push([e.ts * 1000, e.kind]);
  }
  while (list.children.length > 200) list.lastChild.remove();
}
function tile(b) {
  let el = document.querySelector(`.tile[data-url="${b.url}"]`);
  if (!el) {
    el = document.createElement("div");
    el.className = "tile";
    el.dataset.url = b.url;
    el.innerHTML = '<h2></h2><div class="url"></div><span class="state"></span>' +
      '<span class="warm"></span><dl></dl>';
    $("tiles").append(el);
  }
  el.dataset.name = b.name;
  el.dataset.state = b.state;
  el.querySelector("h2").textContent = b.name;
  el.querySelector(".url").textContent = b.url;
  el.querySelector(".state").textContent = b.state;
  el.querySelector(".warm").textContent = b.warming ? "slow start" : "";
  const rows = [["req/s", b.rps], ["in flight", b.in_flight], ["requests", b.requests],
    ["failures", b.failures], ["ejections", b.ejections], ["last probe", b.probe || "-"]];
  el.querySelector("dl").innerHTML = rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("");
  return el;
}
function draw() {
  const c = $("spark"), g = c.getContext("2d"), w = c.width, h = c.height;
  g.clearRect(0, 0, w, h);
  if (history.length < 2) return;
  const t1 = history[history.length - 1][0], t0 = t1 - KEEP * 500;
  const top = Math.max(1, ...history.map((p) => p[1])) * 1.15;
  const x = (t) => (t - t0) / (t1 - t0) * w, y = (v) => h - v / top * h;
  for (const [t, kind] of marks) {
    if (t < t0) continue;
    g.strokeStyle = kind === "chaos" ? "#c62828" : kind === "health" ? "#ab47bc" : "#00838f";
    g.beginPath(); g.moveTo(x(t), 0); g.lineTo(x(t), h); g.stroke();
  }
  g.strokeStyle = "#1565c0"; g.lineWidth = 2; g.beginPath();
  history.forEach(([t, v], i) => i ? g.lineTo(x(t), y(v)) : g.moveTo(x(t), y(v)));
  g.stroke(); g.lineWidth = 1;
  g.fillStyle = "#555"; g.fillText(Math.round(top) + " req/s", 4, 12);
}
function update(doc) {
  if (doc.seq < lastSeq) lastSeq = 0;  // a new balancer process: its events start at 1
  $("rps").textContent = doc.rps;
  $("inflight").textContent = doc.in_flight;
  $("retries").textContent = doc.retries;
  $("retryrate").textContent = doc.retries_per_s;
  const urls = new Set(doc.backends.map((b) => b.url));
  for (const el of document.querySelectorAll(".tile")) if (!urls.has(el.dataset.url)) el.remove();
  doc.backends.forEach(tile);
  $("nodes").textContent = doc.backends.filter((b) => b.state === "up").length + "/" +
    doc.backends.length;
  addEvents(doc.events);
  history.push([Date.now(), doc.rps]);
  while (history.length > KEEP) history.shift();
  draw();
}
const source = new EventSource("/_lb/events");
source.onopen = () => { $("conn").textContent = "live"; $("conn").className = "live"; };
source.onerror = () => { $("conn").textContent = "reconnecting"; $("conn").className = "lost"; };
source.onmessage = (m) => update(JSON.parse(m.data));
</script></body></html>
"""
