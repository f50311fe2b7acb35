from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.prompts.fake_openai import FakeOpenAI


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def openai_client(fake_openai: FakeOpenAI) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0)
    try:
        yield client
    finally:
        client.close()
