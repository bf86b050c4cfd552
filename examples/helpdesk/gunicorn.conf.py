"""gunicorn settings for the helpdesk with several workers and correct metrics.

    export PROMETHEUS_MULTIPROC_DIR=/run/helpdesk-metrics   # before starting: every worker writes here
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    gunicorn -c examples/helpdesk/gunicorn.conf.py examples.helpdesk.app:app

The variable must be in the environment before Python starts (prometheus_client
reads it at import).  `on_starting` refuses to start without a usable directory and
empties it (values from a previous run would be added to this one); `child_exit`
folds a dead worker's values into one archive per type, so recycled workers
(``--max-requests``) do not pile up files that every scrape must read.
"""

import os

from backend_metrics import multiprocess

bind = os.environ.get("HELPDESK_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("HELPDESK_WORKERS", "4"))
worker_class = "uvicorn.workers.UvicornWorker"
accesslog = None


def on_starting(server):
    multiprocess.on_starting(server)


def child_exit(server, worker):
    multiprocess.child_exit(server, worker)
