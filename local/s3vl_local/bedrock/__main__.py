"""`python -m s3vl_local.bedrock --port P`: the local Bedrock Runtime (see server.py)."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from s3vl_local.bedrock.server import BedrockServer
from s3vl_local.ports import LOOPBACK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s3vl_local.bedrock")
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)
    server = BedrockServer((args.host, args.port), access_log=args.access_log)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"bedrock-runtime listening on http://{args.host}:{server.server_port}",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
