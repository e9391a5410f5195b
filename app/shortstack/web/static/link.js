// Draws the link's clicks per hour or per day with Chart.js (served by nginx, no CDN).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const stats = JSON.parse(document.getElementById("stats-data").textContent);
  const canvas = document.getElementById("clicks-chart");
  if (!canvas || !window.Chart) return;
  const series = {
    by_hour: { labels: stats.by_hour.map((r) => r.hour.slice(5, 13).replace("T", " ") + "h"), data: stats.by_hour.map((r) => r.clicks) },
    by_day: { labels: stats.by_day.map((r) => r.day), data: stats.by_day.map((r) => r.clicks) },
  };
  const chart = new Chart(canvas, {
    type: "bar",
    data: { labels: series.by_hour.labels, datasets: [{ label: "clicks", data: series.by_hour.data, backgroundColor: "#2f6fed" }] },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } },
               scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  document.querySelectorAll(".chart-switch button").forEach((button) => {
    button.addEventListener("click", () => {
      const chosen = series[button.dataset.series];
      chart.data.labels = chosen.labels;
      chart.data.datasets[0].data = chosen.data;
      chart.update();
      document.querySelectorAll(".chart-switch button").forEach((b) => b.classList.toggle("active", b === button));
    });
  });
});
