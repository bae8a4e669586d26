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
    from xlform.definition import load_many
    projects, problems = load_many([EXAMPLES])
    assert not problems, problems
    return {p.id: p for p in projects}


@pytest.fixture(scope="session")
def rendered(tmp_path_factory, examples):
    """The seven examples rendered once: {id: path}."""
    from xlform.registry import Registry
    from xlform.renderer import render
    out = tmp_path_factory.mktemp("rendered")
    reg = Registry(out / "registry.db")
    issued = render(list(examples.values()), out, registry=reg)
    reg.close()
    return {i.sheets[0][1]: i.file for i in issued}


@pytest.fixture(scope="session")
def published():
    return yaml.safe_load((Path(__file__).parent / "data" / "published.yaml").read_text(encoding="utf-8"))
