// Refreshes the cluster view every second from GET /api/v1/cluster.
"use strict";
const REFRESH_MS = 1000;

function cell(text, numeric) {
  const td = document.createElement("td");
  td.textContent = text;
  if (numeric) td.className = "num";
  return td;
}

function row(cells) {
  const tr = document.createElement("tr");
  cells.forEach((c) => tr.appendChild(c));
  return tr;
}

function render(view) {
  const totalRate = view.replicas.reduce((sum, r) => sum + r.requests_per_s, 0);
  document.querySelector("#replicas tbody").replaceChildren(...view.replicas.map((r) => {
    const share = document.createElement("meter");
    share.min = 0; share.max = 1; share.value = totalRate ? r.requests_per_s / totalRate : 0;
    const shareCell = document.createElement("td");
    shareCell.appendChild(share);
    const tr = row([cell(r.instance), cell(r.pids.join(", ")), cell(`${r.uptime_s} s`, true),
                    cell(String(r.requests), true), cell(r.requests_per_s.toFixed(1), true), shareCell]);
    tr.dataset.instance = r.instance;
    return tr;
  }));
  document.querySelector("#workers tbody").replaceChildren(...view.workers.map((w) =>
    row([cell(w.name), cell(String(w.pid)), cell(`${w.uptime_s} s`, true), cell(String(w.stored), true),
         cell(w.stored_per_s.toFixed(1), true), cell(String(w.pending), true)])));
  document.getElementById("replica-count").textContent = view.replicas.length;
  document.getElementById("worker-count").textContent = view.workers.length;
  const deps = Object.entries(view.checks).map(([name, result]) => {
    const span = document.createElement("span");
    span.className = `dep ${result === "ok" ? "ok" : "down"}`;
    span.title = result;
    span.textContent = `${name} ${result === "ok" ? "ok" : "down"}`;
    return span;
  });
  const stream = document.createElement("span");
  stream.className = "dep";
  stream.id = "stream";
  stream.textContent = view.stream
    ? `click stream: ${view.stream.length} queued, ${view.stream.pending} being stored`
    : "click stream: ?";
  document.getElementById("deps").replaceChildren(...deps, stream);
}

async function refresh() {
  try {
    const response = await fetch("/api/v1/cluster", { cache: "no-store" });
    if (response.ok) render(await response.json());
  } catch {
    // the balancer itself is unreachable; keep the last view and try again
  }
  setTimeout(refresh, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", () => setTimeout(refresh, REFRESH_MS));
