// Refreshes the cluster view every second from GET /api/v1/cluster, and charts each replica's
// requests per second, stacked, over the last minute: scaling up shows as a new band.
"use strict";
const REFRESH_MS = 1000;
const HISTORY_POINTS = 60;
const history = { labels: [], rates: new Map() }; // instance -> requests/s per refresh, aligned with labels
let chart = null;

function remember(view) {
  history.labels.push(new Date().toLocaleTimeString());
  const seen = new Set(view.replicas.map((r) => r.instance));
  view.replicas.forEach((r) => {
    if (!history.rates.has(r.instance)) history.rates.set(r.instance, new Array(history.labels.length - 1).fill(0));
    history.rates.get(r.instance).push(r.requests_per_s);
  });
  history.rates.forEach((rates, instance) => { if (!seen.has(instance)) rates.push(0); });
  if (history.labels.length > HISTORY_POINTS) {
    history.labels.shift();
    history.rates.forEach((rates) => rates.shift());
  }
  history.rates.forEach((rates, instance) => { if (rates.every((x) => x === 0)) history.rates.delete(instance); });
}

function drawChart() {
  const canvas = document.getElementById("rate-chart");
  if (!canvas || !window.Chart) return;
  const datasets = [...history.rates.entries()].map(([instance, rates]) => (
    { label: instance, data: rates, fill: true, pointRadius: 0, borderWidth: 1 }));
  if (!chart) {
    chart = new Chart(canvas, {
      type: "line",
      data: { labels: history.labels, datasets },
      options: { animation: false, maintainAspectRatio: false,
                 plugins: { legend: { position: "right" }, title: { display: true, text: "requests/s per replica (stacked)" } },
                 scales: { y: { stacked: true, beginAtZero: true }, x: { ticks: { maxTicksLimit: 8 } } } },
    });
  } else {
    chart.data.labels = history.labels;
    chart.data.datasets = datasets;
    chart.update();
  }
}

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
  const totalRate = view.requests_per_s;
  document.querySelector("#replicas tbody").replaceChildren(...view.replicas.map((r) => {
    const share = document.createElement("meter");
    share.min = 0; share.max = 1; share.value = totalRate ? r.requests_per_s / totalRate : 0;
    const shareCell = document.createElement("td");
    shareCell.appendChild(share);
    const tr = row([cell(r.instance), cell(r.version), cell(String(r.processes), true), cell(`${r.uptime_s} s`, true),
                    cell(String(r.requests), true), cell(r.requests_per_s.toFixed(1), true), shareCell]);
    tr.dataset.instance = r.instance;
    return tr;
  }));
  document.querySelector("#workers tbody").replaceChildren(...view.workers.map((w) =>
    row([cell(w.name), cell(`${w.uptime_s} s`, true), cell(String(w.stored), true),
         cell(w.stored_per_s.toFixed(1), true), cell(String(w.pending), true)])));
  document.getElementById("replica-count").textContent = view.replicas.length;
  document.getElementById("total-requests").textContent = view.replicas.reduce((sum, r) => sum + r.requests, 0);
  document.getElementById("total-rate").textContent = totalRate.toFixed(1);
  remember(view);
  drawChart();
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
    ? `click stream: ${view.stream.length} queued, ${view.stream.pending} being stored, ${view.stream.dropped} dropped by the cap`
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
