"""The offline stack: S3 Vectors emulator, local Lambda endpoint, aws_lambda stand-in, process manager."""
