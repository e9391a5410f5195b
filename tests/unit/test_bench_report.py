import math

import pytest

from loadtest.report import Point, USLFit, fit_usl, limiting_factor, scaling_efficiency, write_report


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
    return Point("scaling", "2 replicas", 2, "sync", 32, 30.0, 30000, 3, 1000.0, 10, 20, 30, cpu_percent=cpu)


def test_limit_is_read_from_the_cpu_figures():
    assert limiting_factor(point(app=120, nginx=20, locust=50), cores=2).startswith("CPU-bound")
    assert limiting_factor(point(app=30, locust=99), cores=2).startswith("load-generator-bound")
    assert limiting_factor(point(app=20, locust=20), cores=2).startswith("not CPU-bound")


def test_report_has_the_table_ratios_and_fit(tmp_path):
    points = [
        Point("ceiling", "nginx only", 2, "sync", 32, 30, 300000, 0, 10000, 1, 2, 3, {"locust": 100}),
        Point("ceiling", "nginx → Flask, no I/O", 2, "sync", 32, 30, 90000, 0, 3000, 5, 9, 12, {"app": 150}),
        Point("ceiling", "redirect hot path", 2, "sync", 32, 30, 30000, 0, 1000, 14, 28, 40, {"app": 150}),
        Point("scaling", "1 replicas", 1, "sync", 32, 30, 27000, 0, 900, 12, 20, 30, {"app": 90}),
        Point("scaling", "2 replicas", 2, "sync", 32, 30, 36000, 30, 1200, 11, 21, 31, {"app": 180}),
        Point("worker-class", "gevent", 1, "gevent", 64, 30, 9000, 0, 300, 100, 110, 120, {"app": 15}),
    ]
    fit = fit_usl({1: 900.0, 2: 1200.0})
    write_report(points, fit, "test machine", 2, "make bench", tmp_path / "report.md")
    report = (tmp_path / "report.md").read_text()
    assert "| 2 | 1200 | 0.67 |" in report  # efficiency 1200 / (2 · 900)
    assert "**0.33×** Flask-without-I/O" in report and "**0.10×** nginx-alone" in report
    assert f"σ (contention) = {fit.sigma:.3f}" in report
    assert "| gevent | 300 |" in report
    assert "make bench" in report
