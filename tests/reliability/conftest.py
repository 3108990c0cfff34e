"""The reliability suites use the API suite's Jining world."""

from tests.api.conftest import issue, world  # noqa: F401 - fixtures shared with tests/api
