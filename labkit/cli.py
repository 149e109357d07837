"""Command line for work outside notebooks: ``python -m labkit data|classroom …``.

    python -m labkit data list                 the registered corpora
    python -m labkit data fetch shakespeare    download/build, verify and cache a corpus
    python -m labkit classroom export DIR      instructor notebooks in nbgrader's source format
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _data_list(args: argparse.Namespace) -> int:
    from labkit import data

    for corpus in data.REGISTRY.values():
        cached = "cached" if data.is_cached(corpus.name) else "not cached"
        print(f"{corpus.name:16s} {cached:11s} {corpus.description}")
    return 0


def _data_fetch(args: argparse.Namespace) -> int:
    from labkit import data

    path = data.fetch(args.name)
    print(path)
    return 0


def _classroom_export(args: argparse.Namespace) -> int:
    from labkit import classroom

    written = classroom.export(args.out, notebooks_dir=args.notebooks)
    for path in written:
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m labkit", description="LLM Lab command line")
    commands = parser.add_subparsers(dest="command", required=True)

    data_p = commands.add_parser("data", help="corpora: list, fetch")
    data_cmds = data_p.add_subparsers(dest="data_command", required=True)
    data_cmds.add_parser("list", help="list the registered corpora").set_defaults(func=_data_list)
    fetch_p = data_cmds.add_parser("fetch", help="download or build, verify and cache a corpus")
    fetch_p.add_argument("name", help="corpus name (see `data list`)")
    fetch_p.set_defaults(func=_data_fetch)

    class_p = commands.add_parser("classroom", help="teacher tools")
    class_cmds = class_p.add_subparsers(dest="classroom_command", required=True)
    export_p = class_cmds.add_parser("export", help="write instructor notebooks (nbgrader source format)")
    export_p.add_argument("out", type=Path, help="output folder")
    export_p.add_argument("--notebooks", type=Path, default=Path("notebooks"), help="the course notebooks")
    export_p.set_defaults(func=_classroom_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
