"""Run one request through the handler from a shell, for debugging:

    python -m s3vl_lambda '{"operation": "availability_check"}'
    echo '{"operation": "get_index", "index_arn": "..."}' | python -m s3vl_lambda

Prints the envelope as one JSON line after the function's own log and EMF lines. Exit status 0
when `success` is true, 1 otherwise. Uses the same environment variables as in Lambda.
"""

from __future__ import annotations

import json
import sys

from .handler import lambda_handler


def main(argv: list[str]) -> int:
    event = argv[0] if argv else sys.stdin.read()
    envelope = lambda_handler(event, None)
    print(json.dumps(envelope))
    return 0 if envelope.get("success") else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
