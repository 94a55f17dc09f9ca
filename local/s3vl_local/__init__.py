"""The offline stack: S3 Vectors emulator, Lambda endpoint, aws_lambda stand-in, processes."""
