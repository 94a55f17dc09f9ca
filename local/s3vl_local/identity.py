"""The fixed identity of the local stack: account, region, function name, dummy credentials.

The one place these values live for everything in s3vl_local outside the emulator (which keeps
its own service constants). The credentials are placeholders, never real keys: the local stack
only talks to 127.0.0.1.
"""

from __future__ import annotations

ACCOUNT_ID = "123456789012"  # the AWS documentation's (and moto's) placeholder account
REGION = "us-east-1"
FUNCTION_NAME = "s3vl-function"
FUNCTION_ALIAS = "live"  # the alias cloudformation/ publishes; answered locally too
DUMMY_CREDENTIAL = "testing"


def dummy_credentials_env() -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": DUMMY_CREDENTIAL, "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIAL}
