"""The s3vl Lambda function: S3 Vectors operations behind one JSON protocol (docs/protocol.md)."""

# The release version: the same in pyproject.toml and s3vl.version() (tests/sql/test_facts_tie.py).
__version__ = "1.1.0"
# The JSON protocol version (docs/protocol.md); SQL refuses a function that answers another one.
PROTOCOL_VERSION = 1
