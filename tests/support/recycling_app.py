"""A small Flask app for the worker-recycling tests: it answers with the pid of the worker that served."""

from __future__ import annotations

import os

from flask import Flask

from backend_metrics.wsgi import instrument


def build():
    flask_app = Flask("recycling")

    @flask_app.get("/work/<int:n>")
    def work(n):
        return str(os.getpid())

    return instrument(flask_app)


app = build()
