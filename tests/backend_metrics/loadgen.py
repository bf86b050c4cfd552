"""A bounded HTTP load generator for live tests, run as its own process.

    python -m tests.backend_metrics.loadgen BASE_URL TOTAL [THREADS]

Sends exactly TOTAL requests to BASE_URL (127.0.0.1 only) over keep-alive
connections, cycling through a fixed mix of helpdesk requests, and prints one
JSON line: {"sent": N, "answered": N, "by_status": {...}, "by_request": {...}}.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import urllib.parse
from collections import Counter

MIX = (
    ("GET", "/tickets?limit=5", None),
    ("POST", "/tickets", {"title": "load test ticket"}),
    ("GET", "/tickets/no-such-ticket", None),
    ("GET", "/definitely/not/a/route", None),
)


def worker(host: str, port: int, indices: range, results: Counter, lock: threading.Lock) -> None:
    local: Counter = Counter()
    conn = http.client.HTTPConnection(host, port, timeout=30)
    for i in indices:
        method, path, body = MIX[i % len(MIX)]
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload else {}
        for attempt in range(2):
            try:
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                response.read()
                break
            except (ConnectionError, http.client.HTTPException):
                # A keep-alive connection the server closed before we sent: nothing was
                # served, so sending again does not double-count.  Only retried once.
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                if attempt:
                    raise
        local[f"status:{response.status}"] += 1
        local[f"request:{method} {path}"] += 1
    conn.close()
    with lock:
        results.update(local)


def main(argv: list[str]) -> None:
    base_url, total = argv[1], int(argv[2])
    threads = int(argv[3]) if len(argv) > 3 else 8
    parsed = urllib.parse.urlsplit(base_url)
    if parsed.hostname != "127.0.0.1":
        raise SystemExit("loadgen only sends to 127.0.0.1")
    results: Counter = Counter()
    lock = threading.Lock()
    pool = [
        threading.Thread(target=worker, args=(parsed.hostname, parsed.port, range(t, total, threads), results, lock))
        for t in range(threads)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    by_status = {k.split(":", 1)[1]: v for k, v in results.items() if k.startswith("status:")}
    by_request = {k.split(":", 1)[1]: v for k, v in results.items() if k.startswith("request:")}
    print(json.dumps({"sent": total, "answered": sum(by_status.values()), "by_status": by_status, "by_request": by_request}))


if __name__ == "__main__":
    main(sys.argv)
