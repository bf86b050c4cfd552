"""Remote write and agent mode, live with Debian's Prometheus 2.42 (no Docker).

The senders run the stack's own rendered config and command line (stack.render,
stack.prometheus_flags); only scrape targets and credential-file paths are moved to this machine.
The receiver is a second Prometheus with its remote-write receiver on, behind basic auth.

The outage length is MONSTACK_RW_OUTAGE_SECONDS (default 10 here; the README's figure comes from
`python -m benchmarks.remote_write_outage`, which stops the receiver for the full minute).
"""

from __future__ import annotations

import os

import pytest

from catalogue import node_exporter as node_exporter_service, prometheus as prometheus_service
from stack.config import settings_from_mapping
from tests.support.live import free_port, http_get, run_node_exporter
from tests.support.remote_write import measure_outage, run_receiver, run_stack_prometheus

OUTAGE_SECONDS = float(os.environ.get("MONSTACK_RW_OUTAGE_SECONDS", "10"))
USER, PASSWORD = "sender", "rw-live-pw-3b9d"
LABELS = {"environment": "ci", "host": "live-host"}


def sender_settings(receiver_port: int, *, mode: str = "server", password_user: str = USER, **prometheus):
    return settings_from_mapping(
        {
            "name": "monstack-live",
            "externalLabels": LABELS,
            "grafana": {"enabled": mode == "server"},
            "prometheus": {"image": "monstack-local/prometheus:2.42.0", "scrapeInterval": "1s", "mode": mode, **prometheus},
            "remoteWrite": [
                {
                    "name": "central",
                    "url": f"http://127.0.0.1:{receiver_port}/api/v1/write",
                    "auth": {"type": "basic", "username": password_user},
                    # Shorter than the 5s default so that the test catches up quickly after the outage.
                    "queue": {"maxBackoff": "1s"},
                }
            ],
        }
    )


def test_receiver_gets_series_with_external_labels_and_loses_nothing_across_an_outage(tmp_path):
    port = free_port()
    result = measure_outage(sender_settings(port), port=port, workdir=tmp_path, outage_s=OUTAGE_SECONDS,
                            user=USER, password=PASSWORD, job=prometheus_service.JOB)
    print(f"\nremote write across a {OUTAGE_SECONDS:.0f}s receiver outage: {result.gap} "
          f"({result.scraped_during_outage} samples scraped while the receiver was down)")
    assert result.receiver_labels | LABELS == result.receiver_labels, result.receiver_labels
    assert result.receiver_labels["monstack"] == "monstack-live"
    assert result.scraped_during_outage >= OUTAGE_SECONDS - 2, "the sender itself must have scraped through the outage"
    assert result.gap.missing == 0, result.gap
    assert result.gap.longest_gap_s < 2.5, result.gap


def test_a_wrong_password_delivers_nothing(tmp_path):
    """The receiver really checks the password_file's content: a wrong one gets nothing in."""
    port = free_port()
    settings = sender_settings(port)
    with run_receiver(port, tmp_path / "receiver", users={USER: PASSWORD}) as receiver:
        with run_stack_prometheus(settings, targets={prometheus_service.JOB: ["self"]}, credentials={"central": "wrong"}) as sender:
            sender.api.wait_for('prometheus_remote_storage_samples_failed_total > 0', timeout=30)
            assert receiver.query("count({__name__=~'.+'})") == []


def test_an_agent_delivers_its_hosts_series_to_the_central_prometheus(tmp_path):
    port = free_port()
    settings = sender_settings(port, mode="agent")
    with run_receiver(port, tmp_path / "central", users={USER: PASSWORD}) as central, run_node_exporter() as node_exporter:
        with run_stack_prometheus(
            settings,
            targets={prometheus_service.JOB: ["self"], node_exporter_service.JOB: [node_exporter]},
            credentials={"central": PASSWORD},
        ) as agent:
            assert "--enable-feature=agent" in agent.argv  # 2.42 spells agent mode this way
            # An agent answers no queries: it really runs as an agent.
            status, _, _ = http_get(f"{agent.api.url}/api/v1/query?query=up")
            assert status != 200
            result = central.wait_for(f'node_uname_info{{job="{node_exporter_service.JOB}"}}', timeout=30)
            assert result[0]["metric"] | LABELS == result[0]["metric"], result
            assert result[0]["metric"]["instance"] == node_exporter
            central.wait_for(f'up{{job="{node_exporter_service.JOB}", host="live-host"}} == 1', timeout=30)
            filesystems = central.query(f'node_filesystem_size_bytes{{job="{node_exporter_service.JOB}"}}')
            assert filesystems, "the host's filesystems reach the central Prometheus"
