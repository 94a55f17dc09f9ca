"""Fixtures for the benchmark smoke tests: the handler bench drives the function like the unit
tests do (clean environment, `invoke`, botocore `stubbed` client), so it takes those fixtures."""

from unit.conftest import clean_env, invoke, stubbed

__all__ = ["clean_env", "invoke", "stubbed"]
