import math

import pytest

from loadtest import wrk
from loadtest.report import Point, USLFit, cpu_takeover, fit_usl, limiting_factor, scaling_efficiency, write_report


def test_efficiency_is_throughput_over_linear():
    assert scaling_efficiency({1: 1000, 2: 1800, 4: 2000}) == {1: 1.0, 2: 0.9, 4: 0.5}


@pytest.mark.parametrize("sigma, kappa", [(0.05, 0.0), (0.1, 0.02), (0.0, 0.01), (0.3, 0.05)])
def test_usl_fit_recovers_known_parameters(sigma, kappa):
    truth = USLFit(lam=900.0, sigma=sigma, kappa=kappa)
    fit = fit_usl({n: truth.throughput(n) for n in (1, 2, 4, 8, 16)})
    assert fit.lam == pytest.approx(900.0)
    assert fit.sigma == pytest.approx(sigma, abs=1e-9)
    assert fit.kappa == pytest.approx(kappa, abs=1e-9)


def test_usl_fit_never_goes_negative():
    # Superlinear points would need σ < 0; the law does not allow it, so σ is pinned to 0.
    fit = fit_usl({1: 100.0, 2: 210.0, 4: 400.0})
    assert fit.sigma >= 0 and fit.kappa >= 0


def test_usl_peak():
    assert USLFit(lam=1, sigma=0.0, kappa=0.01).peak_n == pytest.approx(10.0)
    assert math.isinf(USLFit(lam=1, sigma=0.1, kappa=0.0).peak_n)
    with pytest.raises(ValueError):
        fit_usl({2: 100.0, 4: 150.0})


def point(**cpu) -> Point:
    return Point("scaling-mixed", "2 replicas", 2, "sync", 32, 30.0, 30000, 3, 1000.0, 10, 20, 30, cpu_percent=cpu)


def test_limit_is_read_from_the_cpu_figures():
    assert limiting_factor(point(app=120, nginx=20, load=50), cores=2).startswith("CPU-bound")
    assert limiting_factor(point(app=30, load=99), cores=2).startswith("load-generator-bound")
    assert limiting_factor(point(app=20, load=20), cores=2).startswith("not CPU-bound")


def test_cpu_takeover_is_where_the_cores_run_out():
    # 160 req/s using 16% of a core in total: 0.001 core-seconds per request, so 2 cores give
    # 2000 req/s, which at 10 req/s per replica is 200 replicas.
    run = Point("scaling-io", "16 replicas", 16, "sync", 32, 30, 4800, 0, 160.0, 100, 110, 120,
                cpu_percent={"app": 10, "load": 6})
    replicas, ceiling = cpu_takeover(run, single_replica_rps=10.0, cores=2)
    assert ceiling == pytest.approx(2000.0)
    assert replicas == pytest.approx(200.0)


def test_report_has_the_tables_ratios_and_fits(tmp_path):
    points = [
        Point("ceiling", "nginx only", 2, "default", 32, 10, 800000, 0, 80000, 0.2, 1, 4, {"load": 100}),
        Point("ceiling", "nginx → Flask, no I/O", 2, "default", 32, 10, 30000, 0, 3000, 5, 9, 12, {"app": 150}),
        Point("ceiling", "redirect", 2, "default", 32, 10, 21000, 0, 2100, 7, 12, 20, {"app": 150}),
        Point("at-70%", "redirect", 2, "default", 42, 10, 14700, 0, 1470, 2, 4, 9.5, {"app": 100}),
        Point("ceiling", "replica → Flask, no I/O", 2, "default", 32, 10, 40000, 0, 4000, 4, 8, 10, {"app": 90}),
        Point("ceiling", "create (replica)", 2, "default", 32, 10, 10000, 0, 1000, 30, 40, 50, {"app": 90}),
        Point("hot-path-workers", "sync ×2", 2, "sync", 32, 10, 18000, 0, 1800, 8, 14, 30, {"app": 150}),
        Point("hot-path-workers", "gevent ×1", 2, "gevent", 32, 10, 24000, 0, 2400, 6, 12, 25, {"app": 150}),
        Point("ingest", "repeated User-Agents", 0, "", 0, 4.0, 200000, 0, 50000, 0, 0, 0,
              {"worker": 45, "postgres": 35, "redis": 22}),
        Point("ingest", "a new User-Agent per click", 0, "", 0, 20.0, 20000, 0, 1000, 0, 0, 0, {"worker": 100}),
        Point("scaling-mixed", "1 replicas", 1, "sync", 32, 30, 27000, 0, 900, 12, 20, 30, {"app": 90}),
        Point("scaling-mixed", "2 replicas", 2, "sync", 32, 30, 36000, 30, 1200, 11, 21, 31, {"app": 180}),
        Point("scaling-io", "1 replicas", 1, "sync", 2, 30, 300, 0, 10, 200, 200, 210, {"app": 1}),
        Point("scaling-io", "2 replicas", 2, "sync", 4, 30, 594, 0, 19.8, 200, 210, 230, {"app": 2}),
        Point("worker-class", "gevent", 1, "gevent", 64, 30, 9000, 0, 300, 100, 110, 120, {"app": 15}),
    ]
    fits = {"scaling-mixed": fit_usl({1: 900.0, 2: 1200.0}), "scaling-io": fit_usl({1: 10.0, 2: 19.8})}
    write_report(points, fits, "test machine", 2, "make bench", tmp_path / "report.md")
    report = (tmp_path / "report.md").read_text()
    assert "| redirect | 2100 | 0.70 | 7.0 / 20.0 | 1470 req/s (70%) | 2.0 / 9.5 | 0 |" in report
    assert "| create (replica) | 1000 | 0.25 |" in report  # against the empty view on the replica
    assert "**The redirect runs at 0.70× an empty Flask view**" in report
    assert "| sync ×2 | 1800 | 0.75 |" in report and "Fastest: gevent ×1." in report
    assert "**50000 clicks/s**" in report and "no single process is CPU-bound" in report
    assert "1000 clicks/s, **0.02×** the run above" in report and "about 980 µs per click" in report
    assert "| 2 | 32 | 1200 | 0.67 |" in report  # mixed: efficiency 1200 / (2 · 900)
    assert "| 2 | 4 | 20 | 0.99 |" in report  # I/O-bound: 19.8 / (2 · 10)
    assert f"σ (contention) = {fits['scaling-mixed'].sigma:.3f}" in report
    assert "| gevent | 300 |" in report
    assert "make bench" in report


def test_wrk_summary_line_is_read():
    output = ("Running 3s test\n"
              'WRK_JSON {"requests": 9000, "duration_us": 3000000, "connect_errors": 1, "read_errors": 2, '
              '"write_errors": 0, "timeouts": 3, "bad_status": 4, "p50_us": 1500, "p95_us": 4000, "p99_us": 9000}\n')
    result = wrk.parse(output)
    assert result.rps == 3000
    assert result.errors == 10
    assert (result.p50_ms, result.p95_ms, result.p99_ms) == (1.5, 4.0, 9.0)
    with pytest.raises(RuntimeError, match="no summary"):
        wrk.parse("wrk: connection refused\n")
