"""How many samples a remote-write receiver outage costs, measured with Debian's Prometheus 2.42.

    python3 -m benchmarks.remote_write_outage [--outage 60] [--max-backoff 5s]

A Prometheus running the stack's rendered config (scrape interval 1s, remote write with basic
auth) sends its own `up` series to a second Prometheus with the remote-write receiver on. The
receiver is stopped for --outage seconds and started again at the same address with the same
TSDB; once it has caught up, every sample the sender scraped is looked up in the receiver.
Printed side by side for Prometheus' default max_backoff and a shorter one.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from catalogue import prometheus as prometheus_service
from tests.support.live import free_port
from tests.support.remote_write import measure_outage
from tests.remote_write.test_live import PASSWORD, USER, sender_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the receiver is down (default 60)")
    parser.add_argument("--max-backoff", nargs="*", default=["5s", "1s"], help="queue maxBackoff values to compare")
    args = parser.parse_args()
    print(f"{'maxBackoff':>10} {'outage':>7} {'scraped in outage':>18} {'sent':>6} {'received':>9} {'missing':>8} {'longest gap':>12}")
    for backoff in args.max_backoff:
        port = free_port()
        settings = sender_settings(port)
        endpoint = settings.remote_write[0].model_copy(update={"queue": settings.remote_write[0].queue.model_copy(update={"max_backoff": backoff})})
        settings = settings.model_copy(update={"remote_write": [endpoint]})
        with tempfile.TemporaryDirectory(prefix="bench-rw-") as tmp:
            r = measure_outage(settings, port=port, workdir=Path(tmp), outage_s=args.outage, user=USER,
                               password=PASSWORD, job=prometheus_service.JOB)
        print(f"{backoff:>10} {r.outage_s:>6.0f}s {r.scraped_during_outage:>18} {r.gap.sent:>6} {r.gap.received:>9} "
              f"{r.gap.missing:>8} {r.gap.longest_gap_s:>11.2f}s", flush=True)


if __name__ == "__main__":
    main()
