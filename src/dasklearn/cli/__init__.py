"""The ``dasklearn`` command (argument parsing only; the work is in the library)."""

from __future__ import annotations

import argparse
import sys

_DESCRIPTION = "dasklearn: distributed machine learning on Dask with scikit-learn's habits."


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds > 0, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    from dasklearn import __version__

    parser = argparse.ArgumentParser(prog="dasklearn", description=_DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"dasklearn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    what = ("run the distributed-learning tutorial (make_classification, train_test_split, "
            "GridSearchCV over scipy distributions), timing each step, on a new local cluster "
            "or on an existing one (--scheduler)")
    demo = sub.add_parser("demo", help=what, description=what)
    demo.add_argument("--n-workers", type=_positive_int, default=None,
                      help="worker processes of the local cluster (default: dask's choice)")
    demo.add_argument("--scheduler", default=None, metavar="ADDRESS",
                      help="run on an existing cluster, e.g. tcp://127.0.0.1:8786, instead of a local one")
    demo.add_argument("--timeout", type=_positive_float, default=10.0, metavar="SECONDS",
                      help="how long to wait for the --scheduler to answer (default: 10)")
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
    from dasklearn._runtime._cluster import ClientClosed, WorkersLost
    from dasklearn.demo import SchedulerAddressError, run

    where = f"the cluster at {args.scheduler}" if args.scheduler else "a local Dask cluster"
    print(f"dasklearn demo: the distributed-learning tutorial on {where}")
    try:
        run(n_workers=args.n_workers, verbose=args.verbose, scheduler=args.scheduler, timeout=args.timeout)
    # no scheduler answering, not an address, no workers, the Client closed:
    # one line; any other error is a bug, shown with its traceback
    except (TimeoutError, SchedulerAddressError, WorkersLost, ClientClosed) as exc:
        print(f"dasklearn demo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dasklearn demo: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
