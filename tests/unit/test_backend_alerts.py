"""The backend's alerts read recorded series: each fires from the raw series a replica exposes,
through the recording rules, and stays quiet below its threshold (promtool test rules).

Prometheus evaluates the recording group (once a minute) and the alert group independently, so an
alert may read a recorded value up to one recording interval old. promtool 2.42 ignores a group's
`interval` and evaluates every group at each `evaluation_interval`; these tests evaluate at the
recording interval and put the alert group *first* (`group_eval_order`): at each minute the alerts
read the previous minute's recorded values, the latest they can be in a real Prometheus.
"""

from __future__ import annotations

import subprocess

import yaml

import catalogue
from backend_metrics import names as backend
from catalogue import backend as service
from catalogue.rules import RECORDING_GROUP, RECORDING_INTERVAL
from stack.config import settings_from_mapping
from stack.render import PROMETHEUS_RULES_NAME, render_alert_rules, to_yaml
from stack.settings import parse_duration_seconds
from tests.support.tools import require_binary

SETTINGS = settings_from_mapping({})
SCRAPE = SETTINGS.prometheus.scrape_interval  # the input series' step: one sample per scrape
SCRAPES_PER_MINUTE = round(60 / parse_duration_seconds(SCRAPE))
T = service.THRESHOLDS
REPLICA_A = {"job": service.JOB, "instance": "10.0.0.2:8000"}
REPLICA_B = {"job": service.JOB, "instance": "10.0.0.3:8000"}
ROUTE_R = {backend.LABEL_ROUTE: "/r", backend.LABEL_METHOD: "GET"}
FOLDED = {backend.LABEL_METRIC: backend.HTTP_REQUESTS_TOTAL}
BUCKET = f"{backend.HTTP_REQUEST_DURATION_SECONDS}_bucket"
ALERTS = ("BackendHighErrorRatio", "BackendSlowRoute", "LoginFailureSpike", "BackendMetricsSeriesCapped")


def series(metric, /, **labels):
    return metric + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def counter(per_scrape: float, minutes: int = 25) -> str:
    """A counter growing by `per_scrape` at every scrape for `minutes`."""
    return f"0+{per_scrape:g}x{minutes * SCRAPES_PER_MINUTE}"


def minutes(duration: str) -> int:
    return round(parse_duration_seconds(duration) / 60)


def rule(name):
    return next(r for r in service.alert_rules() if r.name == name)


def rule_file(*, recording: bool = True) -> dict:
    doc = render_alert_rules(SETTINGS)
    if not recording:
        doc = {"groups": [g for g in doc["groups"] if g["name"] != RECORDING_GROUP]}
    return doc


def promtool(tmp_path, tests, doc=None):
    doc = doc or rule_file()
    alert_groups = [g["name"] for g in doc["groups"] if g["name"] != RECORDING_GROUP]
    (tmp_path / PROMETHEUS_RULES_NAME).write_text(to_yaml(doc))
    (tmp_path / "test.yml").write_text(yaml.safe_dump({
        "rule_files": [PROMETHEUS_RULES_NAME],
        "evaluation_interval": RECORDING_INTERVAL,
        "group_eval_order": [*alert_groups, *([RECORDING_GROUP] if len(alert_groups) < len(doc["groups"]) else [])],
        "tests": tests,
    }))
    result = subprocess.run([require_binary("promtool"), "test", "rules", "test.yml"], cwd=tmp_path,
                            capture_output=True, text=True)
    return result


def at(name, minute, expected=()):
    out = []
    for labels, annotations in expected:
        out.append({"exp_labels": {"severity": rule(name).severity, **labels},
                    "exp_annotations": {**annotations, "runbook_url": _runbook(name)}})
    return {"eval_time": f"{minute}m", "alertname": name, "exp_alerts": out}


def _runbook(name):
    return f"{SETTINGS.alert_rules.runbook_base_url}#{catalogue.rules.runbook_anchor(name)}"


# The alert reads the recorded value of the previous minute: the first recorded rate is at 1 min,
# the alert sees it at 2 min, pending from then, firing `for` later.
FIRST_SEEN = 2 * minutes(RECORDING_INTERVAL)


def fires_from(name) -> int:
    return FIRST_SEEN + minutes(rule(name).duration)


def test_error_ratio_fires_from_two_replicas_requests_through_the_recorded_rates(tmp_path):
    fires = fires_from("BackendHighErrorRatio")
    route = {backend.LABEL_ROUTE: "/tickets"}
    summary = {"summary": rule("BackendHighErrorRatio").summary}
    result = promtool(tmp_path, [{
        "interval": SCRAPE,
        "input_series": [
            # a: 60 GET 200 per scrape; b: 30 POST 201 and 10 POST 500: 10 of 100 answered 5xx, 10%
            {"series": series(backend.HTTP_REQUESTS_TOTAL, **REPLICA_A, **route, method="GET", status="200"), "values": counter(60)},
            {"series": series(backend.HTTP_REQUESTS_TOTAL, **REPLICA_B, **route, method="POST", status="201"), "values": counter(30)},
            {"series": series(backend.HTTP_REQUESTS_TOTAL, **REPLICA_B, **route, method="POST", status="500"), "values": counter(10)},
        ],
        "alert_rule_test": [
            at("BackendHighErrorRatio", fires - 1),
            at("BackendHighErrorRatio", fires, [({}, {**summary, "description":
                                                       "10% of requests answered 5xx over the last 5 minutes."})]),
        ],
    }])
    assert result.returncode == 0, result.stdout + result.stderr


def test_error_ratio_below_the_threshold_stays_quiet(tmp_path):
    below = T.error_ratio.critical * 0.8  # 4% at the default 5%
    result = promtool(tmp_path, [{
        "interval": SCRAPE,
        "input_series": [
            {"series": series(backend.HTTP_REQUESTS_TOTAL, **REPLICA_A, **ROUTE_R, status="200"),
             "values": counter(100 * (1 - below))},
            {"series": series(backend.HTTP_REQUESTS_TOTAL, **REPLICA_B, **ROUTE_R, status="503"),
             "values": counter(100 * below)},
        ],
        "alert_rule_test": [at("BackendHighErrorRatio", m) for m in (fires_from("BackendHighErrorRatio"), 20)],
    }])
    assert result.returncode == 0, result.stdout + result.stderr


def _latency_buckets(route, instance, per_bucket):
    """Cumulative `_bucket` counters of one route: requests per scrape that land in each bucket."""
    total, out = 0, []
    for le, count in per_bucket:
        total += count
        out.append({"series": series(BUCKET, **instance, **{backend.LABEL_ROUTE: route, backend.LABEL_METHOD: "GET"}, le=le), "values": counter(total)})
    return out


def _slow(latency):
    return [(f"{latency / 2:g}", 0), (f"{latency:g}", 0), (f"{latency * 2.5:g}", 10), ("+Inf", 0)]


def test_slow_route_fires_for_the_slow_route_only_through_the_recorded_p99(tmp_path):
    fires = fires_from("BackendSlowRoute")
    latency = T.p99_latency_seconds.critical
    # /search: every request between the threshold and 2.5 times it (p99 = 2.485 s at 1 s), on two replicas;
    # /health: every request under half the threshold
    slow, fast = _slow(latency), [(f"{latency / 2:g}", 10), (f"{latency:g}", 0), (f"{latency * 2.5:g}", 0), ("+Inf", 0)]
    p99 = latency + (latency * 2.5 - latency) * 0.99
    result = promtool(tmp_path, [{
        "interval": SCRAPE,
        "input_series": [*_latency_buckets("/search", REPLICA_A, slow), *_latency_buckets("/search", REPLICA_B, slow),
                         *_latency_buckets("/health", REPLICA_A, fast)],
        "alert_rule_test": [
            at("BackendSlowRoute", fires - 1),
            at("BackendSlowRoute", fires, [({backend.LABEL_ROUTE: "/search"}, {
                "summary": rule("BackendSlowRoute").summary, "description": f"p99 of /search is {p99:.4g}s."})]),
        ],
    }])
    assert result.returncode == 0, result.stdout + result.stderr


def test_slow_route_just_under_the_threshold_stays_quiet(tmp_path):
    latency = T.p99_latency_seconds.critical
    # every request between half the threshold and the threshold: p99 = 0.995 x threshold
    near = [(f"{latency / 2:g}", 0), (f"{latency:g}", 10), ("+Inf", 0)]
    result = promtool(tmp_path, [{
        "interval": SCRAPE,
        "input_series": _latency_buckets("/search", REPLICA_A, near),
        "alert_rule_test": [at("BackendSlowRoute", m) for m in (fires_from("BackendSlowRoute"), 20)],
    }])
    assert result.returncode == 0, result.stdout + result.stderr


def _logins(instance, failures_per_scrape, successes_per_scrape):
    return [
        {"series": series(backend.AUTH_ATTEMPTS_TOTAL, **instance, outcome=service.AUTH_FAILURE),
         "values": counter(failures_per_scrape)},
        {"series": series(backend.AUTH_ATTEMPTS_TOTAL, **instance, outcome="success"),
         "values": counter(successes_per_scrape)},
    ]


def test_login_failure_spike_fires_from_both_replicas_attempts_through_the_recorded_rates(tmp_path):
    fires = fires_from("LoginFailureSpike")
    result = promtool(tmp_path, [{
        "interval": SCRAPE,
        # 12 of 16 attempts per scrape fail (75%), about 1 attempt a second, split over two replicas
        "input_series": [*_logins(REPLICA_A, 9, 1), *_logins(REPLICA_B, 3, 3)],
        "alert_rule_test": [
            at("LoginFailureSpike", fires - 1),
            at("LoginFailureSpike", fires, [({}, {"summary": rule("LoginFailureSpike").summary, "description":
                "75% of authentication attempts failed: a broken client, or password guessing."})]),
        ],
    }])
    assert result.returncode == 0, result.stdout + result.stderr


def test_login_failures_below_the_ratio_or_the_rate_stay_quiet(tmp_path):
    fires = fires_from("LoginFailureSpike")
    seconds = parse_duration_seconds(SCRAPE)
    ratio, rate = T.login_failure_ratio.critical, T.login_attempts_per_second
    below_ratio = 10 * ratio * 0.9  # of 10 attempts per scrape, far above the rate floor
    slow_attempts = rate * seconds * 0.5  # per scrape: half the rate floor, all of them failing
    result = promtool(tmp_path, [
        {"interval": SCRAPE, "input_series": _logins(REPLICA_A, below_ratio, 10 - below_ratio),
         "alert_rule_test": [at("LoginFailureSpike", m) for m in (fires, 20)]},
        {"interval": SCRAPE, "input_series": _logins(REPLICA_A, slow_attempts, 0),
         "alert_rule_test": [at("LoginFailureSpike", m) for m in (fires, 20)]},
    ])
    assert result.returncode == 0, result.stdout + result.stderr


def test_series_capped_fires_for_the_replica_that_folded_through_the_recorded_increase(tmp_path):
    # replica a folds one label set at 5 min; replica b never does
    folded_at = 5
    quiet = f"0x{folded_at * SCRAPES_PER_MINUTE}"
    result = promtool(tmp_path, [{
        "interval": SCRAPE,
        "input_series": [
            {"series": series(backend.SERIES_OVERFLOW_TOTAL, **REPLICA_A, **FOLDED),
             "values": f"{quiet} 1x{20 * SCRAPES_PER_MINUTE}"},
            {"series": series(backend.SERIES_OVERFLOW_TOTAL, **REPLICA_B, **FOLDED),
             "values": counter(0)},
        ],
        "alert_rule_test": [
            # recorded at the next minute after the fold, read by the alert a minute later
            at("BackendMetricsSeriesCapped", folded_at + 1),
            at("BackendMetricsSeriesCapped", folded_at + 2, [({"instance": REPLICA_A["instance"]}, {
                "summary": rule("BackendMetricsSeriesCapped").summary,
                "description": f"A metric reached its series cap on {REPLICA_A['instance']}: look for unbounded label values."})]),
        ],
    }])
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_the_recording_group_no_backend_alert_fires(tmp_path):
    """The alerts read only what the recording rules write: drop them and the same input raises nothing."""
    inputs = [
        {"series": series(backend.HTTP_REQUESTS_TOTAL, **REPLICA_A, **ROUTE_R, status="500"), "values": counter(10)},
        *_latency_buckets("/r", REPLICA_A, _slow(T.p99_latency_seconds.critical)),
        *_logins(REPLICA_A, 10, 0),
        {"series": series(backend.SERIES_OVERFLOW_TOTAL, **REPLICA_A, **FOLDED), "values": counter(1)},
    ]
    tests = [{"interval": SCRAPE, "input_series": inputs, "alert_rule_test": [at(name, 20) for name in ALERTS]}]
    assert promtool(tmp_path, tests, rule_file(recording=False)).returncode == 0
    # the same input with the recording rules in place: every one of them fires (so the check above can fail)
    firing = promtool(tmp_path, tests)
    assert firing.returncode != 0
    for name in ALERTS:
        assert f"alertname: {name}" in firing.stdout + firing.stderr, name
