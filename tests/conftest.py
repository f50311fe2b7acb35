"""Shared fixtures: a migrated store on SQLite and on the local PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from storage.db import make_engine, migrate
from storage.repos import Store
from storage.tables import Base

REPO = Path(__file__).resolve().parent.parent
CORPORA = Path(os.environ.get("FOLLOWUP_CORPORA", REPO.parent / "shared" / "corpora"))


def corpus_file(*parts: str) -> Path:
    """A file of the shared corpora; the test is skipped, with the reason, when they are absent
    (a clone without `shared/` beside it)."""
    path = CORPORA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"corpus file {path} not found (set FOLLOWUP_CORPORA)")
    return path


POSTGRES_URL = os.environ.get(
    "FOLLOWUP_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    """A throwaway database on the local PostgreSQL, migrated once for the session."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"followup_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # the Makefile starts the server; say so when it is missing
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({error.__class__.__name__}). "
            "Run `make test` (it starts the server) or set FOLLOWUP_TEST_POSTGRES."
        )
    engine = make_engine(make_url(POSTGRES_URL).set(database=name).render_as_string(False))
    migrate(engine)
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        sqlite = make_engine(f"sqlite:///{tmp_path / 'followup.db'}")
        migrate(sqlite)
        yield sqlite
        sqlite.dispose()
    else:
        postgres: Engine = request.getfixturevalue("postgres_engine")
        _truncate(postgres)
        yield postgres


@pytest.fixture
def store(engine: Engine) -> Store:
    return Store(engine)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    engine = make_engine(f"sqlite:///{tmp_path / 'followup.db'}")
    migrate(engine)
    yield Store(engine)
    engine.dispose()
