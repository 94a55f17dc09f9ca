"""Local AWS Lambda Invoke API endpoint that runs the project's handler in-process."""

from s3vl_local.lambda_endpoint.runtime import FunctionConfig, FunctionRuntime
from s3vl_local.lambda_endpoint.server import LambdaServer, start_in_thread

__all__ = ["FunctionConfig", "FunctionRuntime", "LambdaServer", "start_in_thread"]
