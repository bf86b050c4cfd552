"""``python -m dashboards build --out DIR``: write every dashboard's JSON and a Markdown summary of each."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import render_dashboards, render_summaries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="write the dashboards' JSON files and Markdown summaries")
    build.add_argument("--out", required=True, type=Path, help="directory to write into (created if missing)")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    files = {**render_dashboards(), **render_summaries()}
    for name, text in sorted(files.items()):
        (args.out / name).write_text(text, encoding="utf-8")
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
