"""The scaling demo's bookkeeping: which replica count each second of Locust's history belongs to."""

from loadtest.scaling_demo import read_history, replicas_at

CHANGES = [(0.0, 1), (31.5, 2), (62.0, 4)]


def test_each_moment_gets_the_replica_count_in_effect():
    assert [replicas_at(t, CHANGES) for t in (0, 31.4, 31.5, 61.9, 62.0, 500)] == [1, 1, 2, 2, 4, 4]


def test_history_rows_become_samples_on_the_run_clock(tmp_path):
    history = tmp_path / "locust_stats_history.csv"
    header = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,95%,Total Request Count\n"
    history.write_text(header
                       + "1000,16,,Aggregated,0.000000,0.000000,N/A,N/A,0\n"  # nothing answered yet
                       + "1010,16,GET,/api/v1/demo/downstream,9.5,0,1600,1700,95\n"  # per-endpoint: skipped
                       + "1010,16,,Aggregated,9.800000,0.000000,1600,1700,98\n"
                       + "1040,16,,Aggregated,19.600000,0.100000,800,900,400\n")
    samples = read_history(history, started_at=1001.0, changes=CHANGES)
    assert [(s.elapsed_s, s.replicas, s.rps, s.p95_ms, s.failures_per_s) for s in samples] == [
        (9.0, 1, 9.8, 1700.0, 0.0), (39.0, 2, 19.6, 900.0, 0.1)]
