"""The s3vl Lambda function: S3 Vectors operations behind one JSON protocol (docs/protocol.md)."""

__version__ = "0.1.0"
PROTOCOL_VERSION = 1
