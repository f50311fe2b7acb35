"""Fixtures shared with tests/prompts."""

from tests.prompts.conftest import fake_openai, openai_client  # noqa: F401 - fixtures
