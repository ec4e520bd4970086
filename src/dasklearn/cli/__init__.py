"""The ``dasklearn`` command: argument parsing only, the work is in the library."""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dasklearn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the distributed-learning tutorial on a local cluster")
    demo.add_argument("--n-workers", type=int, default=None,
                      help="worker processes of the local cluster (default: dask's choice)")
    demo.add_argument("--scheduler", default=None, metavar="ADDRESS",
                      help="run on an existing cluster, e.g. tcp://127.0.0.1:8786, instead of a local one")
    demo.add_argument("-v", "--verbose", action="count", default=0,
                      help="show the search's progress bar")
    sub.add_parser("version", help="print the version")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        from dasklearn import __version__

        print(__version__)
        return 0
    from dasklearn.demo import run

    where = f"the cluster at {args.scheduler}" if args.scheduler else "a local Dask cluster"
    print(f"dasklearn demo: the distributed-learning tutorial on {where}")
    try:
        run(n_workers=args.n_workers, verbose=args.verbose, scheduler=args.scheduler)
    except TimeoutError as exc:
        print(f"dasklearn demo: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
