"""`python -m s3vectors_emulator`: serve the emulator until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from s3vectors_emulator import constants as c
from s3vectors_emulator.api.urls import OPERATION_NAMES
from s3vectors_emulator.serving.server import start_server

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CLASSIC_ENV = "S3VL_EMULATOR_CLASSIC_BUCKETS"


def _operation_latency(text: str) -> tuple[str, float]:
    operation, sep, value = text.partition("=")
    if not sep or operation not in OPERATION_NAMES:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give OPERATION=MILLISECONDS, OPERATION one of {', '.join(OPERATION_NAMES)}"
        )
    try:
        return operation, float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {value!r} is not a number") from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m s3vectors_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--data-dir", default=None, help="persist state here across restarts")
    parser.add_argument("--region", default=c.DEFAULT_REGION)
    parser.add_argument("--throttle-rate", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="added to every operation (milliseconds)"
    )
    parser.add_argument(
        "--latency-ms-op",
        type=_operation_latency,
        action="append",
        default=[],
        metavar="OP=N",
        help="added to one operation instead of --latency-ms, e.g. QueryVectors=80 (repeatable)",
    )
    parser.add_argument(
        "--write-limits",
        action="store_true",
        help="throttle PutVectors + DeleteVectors per index as the service does (429 past "
        f"{c.WRITE_REQUESTS_PER_SECOND:,.0f} requests/s or {c.WRITE_VECTORS_PER_SECOND:,.0f} "
        "vectors/s); either rate below also turns them on",
    )
    parser.add_argument("--write-requests-per-second", type=float, default=None, metavar="N")
    parser.add_argument("--write-vectors-per-second", type=float, default=None, metavar="N")
    parser.add_argument("--fault-seed", type=int, default=None)
    parser.add_argument("--query-page-size", type=int, default=c.QUERY_PAGE_SIZE_DEFAULT)
    parser.add_argument(
        "--classic-buckets",
        action="store_true",
        default=os.environ.get(CLASSIC_ENV, "").lower() in ("1", "true", "yes"),
        help="date new vector buckets before 2026-09-30, so they default to CLASSIC indexes and "
        f"accept UpdateIndexMode CLASSIC (also: {CLASSIC_ENV}=true)",
    )
    parser.add_argument(
        "--text-build-seconds",
        type=float,
        default=c.TEXT_BUILD_SECONDS_DEFAULT,
        help="how long a text search configuration added to an index stays BUILDING",
    )
    parser.add_argument(
        "--plain-json",
        action="store_true",
        help="parse vector bodies with orjson only, not the simdjson fast path (for benchmarks)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.host not in LOOPBACK_HOSTS:
        parser.error(
            f"--host must be a loopback address {LOOPBACK_HOSTS}: the emulator has no auth"
        )
    try:
        handle = start_server(
            args.host,
            args.port,
            region=args.region,
            data_dir=args.data_dir,
            throttle_rate=args.throttle_rate,
            error_rate=args.error_rate,
            latency_ms=args.latency_ms,
            fault_seed=args.fault_seed,
            query_page_size=args.query_page_size,
            fast_json=not args.plain_json,
            classic_buckets=args.classic_buckets,
            text_build_seconds=args.text_build_seconds,
            latency_ms_by_operation=dict(args.latency_ms_op),
            write_limits=args.write_limits,
            write_requests_per_second=args.write_requests_per_second,
            write_vectors_per_second=args.write_vectors_per_second,
        )
    except ValueError as error:
        parser.error(str(error))
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"s3vectors-emulator listening on {handle.url}", flush=True)
    while not done.wait(1.0):
        pass
    handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
