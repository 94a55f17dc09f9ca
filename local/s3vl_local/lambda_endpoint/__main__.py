"""`python -m s3vl_local.lambda_endpoint --port P --function-name NAME ...`"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from s3vl_local.identity import FUNCTION_NAME, REGION, dummy_credentials_env
from s3vl_local.lambda_endpoint.runtime import DEFAULT_HANDLER, FunctionConfig, FunctionRuntime
from s3vl_local.lambda_endpoint.server import LambdaServer, check_loopback
from s3vl_local.ports import LOOPBACK


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m s3vl_local.lambda_endpoint")
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--function-name", default=FUNCTION_NAME)
    parser.add_argument("--handler", default=DEFAULT_HANDLER, help="module:function")
    parser.add_argument("--timeout-seconds", type=float, default=30.0)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--max-concurrency", type=int, default=10,
                        help="invocations running at once; beyond it 429 TooManyRequestsException "
                             "at once, as a reserved concurrency does")
    parser.add_argument("--alias", action="append", default=[],
                        help="an alias the function answers to, pointing at $LATEST (repeatable)")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", REGION))
    parser.add_argument("--s3vectors-endpoint", default=os.environ.get(
        "AWS_ENDPOINT_URL_S3VECTORS", ""))
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment variable for the function (repeatable)")
    parser.add_argument("--access-log", action="store_true")
    return parser.parse_args(argv)


def function_environment(args: argparse.Namespace) -> dict[str, str]:
    """The variables Lambda sets for a function, plus the emulator endpoint."""
    env = {
        "AWS_REGION": args.region,
        "AWS_DEFAULT_REGION": args.region,
        **dummy_credentials_env(),
        "AWS_LAMBDA_FUNCTION_NAME": args.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{args.function_name}",
        "POWERTOOLS_SERVICE_NAME": args.function_name,
    }
    if args.s3vectors_endpoint:
        env["AWS_ENDPOINT_URL_S3VECTORS"] = args.s3vectors_endpoint
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--env expects KEY=VALUE, got {item!r}")
        env[key] = value
    return env


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        check_loopback(args.host)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.max_concurrency < 1:
        print("error: --max-concurrency must be at least 1", file=sys.stderr)
        return 2
    os.environ.update(function_environment(args))
    runtime = FunctionRuntime(FunctionConfig(
        function_name=args.function_name, region=args.region,
        timeout_seconds=args.timeout_seconds, handler_spec=args.handler,
        max_concurrency=args.max_concurrency, aliases=tuple(args.alias)))
    runtime.latency_ms = args.latency_ms
    server = LambdaServer(args.host, args.port, runtime, access_log=args.access_log)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        # shutdown() blocks until serve_forever returns, so call it from another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"lambda endpoint {runtime.arn} on {server.url}", file=sys.__stderr__, flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    runtime.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
