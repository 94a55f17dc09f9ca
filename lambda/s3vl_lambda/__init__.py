"""The s3vl Lambda function: S3 Vectors operations behind one JSON protocol (docs/protocol.md)."""
