"""The deploy files say what they must: a slim non-root image installed from the lock, a
compose file with PostgreSQL and several replicas, a systemd unit; and the lock pins the
versions the tests run with. (No container engine runs here: the files are read, not built.)"""

from __future__ import annotations

import configparser
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def lock(name: str) -> dict[str, str]:
    pins = {}
    for line in (REPO / name).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            package, _, pinned = line.partition("==")
            assert pinned, f"{name}: {line!r} is not pinned"
            pins[re.sub(r"[-_.]+", "-", package).lower()] = pinned
    return pins


def project() -> dict[str, object]:
    loaded: dict[str, object] = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return loaded


def requirement_name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]).lower()


def test_the_lock_pins_the_versions_the_tests_run_with() -> None:
    runtime = lock("requirements.lock")
    dev = lock("requirements-dev.lock")
    for requirement in project()["dependencies"]:  # type: ignore[attr-defined]
        assert requirement_name(requirement) in runtime, requirement
    for requirement in project()["optional-dependencies"]["dev"]:  # type: ignore[index]
        assert requirement_name(requirement) in dev, requirement
    assert runtime.items() <= dev.items()
    for package in ("sqlalchemy", "slack-bolt", "prometheus-client", "pytest"):
        assert dev[package] == version(package), f"{package}: run scripts/lock.py"


def test_the_dockerfile_is_slim_non_root_and_installs_from_the_lock() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert stages
    assert all(image.endswith("-slim") for image in stages)
    users = re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)
    assert users
    assert users[-1] not in ("root", "0")
    assert "pip install --no-deps -r requirements.lock" in text
    assert re.search(r"^COPY \. \.$", text, flags=re.MULTILINE)  # the source, minus .dockerignore
    ignored = {
        line.strip().rstrip("/")
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    needed = [p.rstrip("*") for p in packages["packages"]["find"]["include"]]
    needed += [f"{module}.py" for module in packages["py-modules"]]
    needed += ["pyproject.toml", "README.md", "examples", "requirements.lock"]
    for name in needed:
        assert (REPO / name).exists(), name
        assert name not in ignored, f".dockerignore leaves {name} out of the image"
    assert ".env" in ignored  # secrets never baked into an image
    assert re.search(r'^CMD \["run"\]', text, flags=re.MULTILINE)
    assert "/healthz" in text


def test_compose_runs_postgres_and_several_replicas() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:")
    app = services["app"]
    assert app["build"] == "."
    assert (REPO / "Dockerfile").exists()
    assert app["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@db:5432/" in app["environment"]["DATABASE_URL"]
    assert app["deploy"]["replicas"] >= 2
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    for volume in app["volumes"]:
        source = volume.split(":")[0]
        assert source in compose["volumes"] or source.startswith("./")


def test_the_systemd_unit_runs_the_service_as_its_own_user() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(REPO / "deploy" / "followup.service")
    assert set(unit.sections()) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    assert service["ExecStart"].split()[1:2] == ["run"]
    assert service["ExecStart"].split()[0].endswith("/followup")
    assert service["User"] not in ("root", "0")
    assert service["KillSignal"] == "SIGTERM"


def test_a_non_editable_install_carries_the_migrations_and_templates() -> None:
    """Files in folders that are not packages reach site-packages only through package-data
    (the image installs the project, not a link to the source)."""
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    covered = [
        (package.replace(".", "/"), pattern)
        for package, patterns in data.items()
        if package != "*"
        for pattern in patterns
    ]
    for path in [
        *(REPO / "storage" / "migrations" / "versions").glob("*.py"),
        *(REPO / "prompts" / "templates").glob("*.j2"),
    ]:
        relative = path.relative_to(REPO)
        assert any(relative.match(f"{package}/{pattern}") for package, pattern in covered), (
            f"{relative} would be missing from an installed copy"
        )
