import sys
from pathlib import Path

import os

import pytest
import yaml
from hypothesis import settings

# Generated LibreOffice cases cost ~0.3 s each: 40 in CI; HYPOTHESIS_PROFILE=deep searches harder.
settings.register_profile("default", max_examples=40)
settings.register_profile("deep", max_examples=400)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from libreoffice import LibreOffice  # noqa: E402


@pytest.fixture(scope="session")
def lo():
    """One LibreOffice for the whole run; failing to start it fails the tests (never a skip)."""
    office = LibreOffice()
    yield office
    office.close()


@pytest.fixture(scope="session")
def examples():
    from xlform.definition.definition import load_many
    projects, problems = load_many([EXAMPLES])
    assert not problems, problems
    return {p.id: p for p in projects}


@pytest.fixture(scope="session")
def rendered(tmp_path_factory, examples):
    """The seven examples rendered once: {id: path}."""
    from xlform.issue.registry import Registry
    from xlform.issue.renderer import render
    out = tmp_path_factory.mktemp("rendered")
    reg = Registry(out / "registry.db")
    issued = render(list(examples.values()), out, registry=reg)
    reg.close()
    return {i.sheets[0][1]: i.file for i in issued}


@pytest.fixture(scope="session")
def published():
    return yaml.safe_load((Path(__file__).parent / "data" / "published.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def postgres():
    """One private PostgreSQL server for the run (tests/postgres.py). Failing to start it fails the tests;
    they are skipped only outside CI (CI unset) on a machine without PostgreSQL installed."""
    from postgres import Cluster, PostgresUnavailable, binaries
    if binaries() is None and not os.environ.get("CI"):
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql); CI runs these tests")
    try:
        cluster = Cluster()
    except PostgresUnavailable as e:
        pytest.fail(f"cannot start PostgreSQL for the tests: {e}", pytrace=False)
    yield cluster
    cluster.close()


@pytest.fixture()
def pg_url(postgres):
    """A new, empty database of the test server, dropped after the test."""
    name = postgres.create_database()
    yield postgres.url(name)
    postgres.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """The collection database (or registry) on each engine: a SQLite file, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "db" / "c.db")
    return request.getfixturevalue("pg_url")
