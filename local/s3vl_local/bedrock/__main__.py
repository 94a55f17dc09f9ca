"""`python -m s3vl_local.bedrock --port P`: the local Bedrock Runtime (see server.py)."""

from __future__ import annotations

import os

# One BLAS thread per request thread: the matrices of one sentence are small, and OpenBLAS's
# own threads spin against each other on a busy machine (62 vs 8 embeddings/s measured here).
# Set before numpy is first imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from types import FrameType  # noqa: E402

from s3vl_local.bedrock.server import BedrockServer  # noqa: E402
from s3vl_local.ports import LOOPBACK  # noqa: E402


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
