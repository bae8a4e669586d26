"""A small office for the desk tests: two departments' forms issued into a registry, returns as departments
save them (cached values written, as Excel does), department links."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import definition, load_def, make_inputs
from xlform.desk import auth
from xlform.kinds.forms import form_kind
from xlform.storage.db import locate
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.storage.store import Store
from xlform.xlsx.writer import SheetSpec, write

INDICATORS = [("产出指标", "数量指标", "培训次数", "≥4次", 30), ("产出指标", "质量指标", "覆盖率", "≥80%", 30),
              ("效益指标", "社会效益指标", "群众意识", "不断提高", 20), ("满意度指标", "满意度指标", "满意度", "95%", 10)]
# (template id, 主管部门, 项目名称)
PLAN = [("desk-a-01", "甲局", "甲局培训项目"), ("desk-a-02", "甲局", "甲局宣传项目"), ("desk-b-01", "乙局", "乙局监管项目")]
REASON_CELL = "自评表!I13"    # the 偏差原因 of 培训次数, asked for when fewer than 4 trainings are typed


def issue(folder: Path, registry_location) -> dict:
    """The PLAN rendered into the registry: {template id: (project, issued workbook)}."""
    reg = Registry(registry_location)
    out = {}
    try:
        for tid, department, project in PLAN:
            p = load_def(folder, definition(INDICATORS, id=tid, department=department, implementer=department,
                                            project=project), name=f"{tid}.yaml")
            [form] = render([p], folder / "issued", registry=reg)
            out[tid] = (p, form.file)
    finally:
        reg.close()
    return out


def inputs(trainings: int) -> dict:
    """A department's typing: 100 of 100 executed, the trainings given, every other target met; with fewer
    than 4 trainings and no 偏差原因 the form has one error (at REASON_CELL). The 满意度 is explained: all full
    marks with no narrative at all is a quality flag."""
    return make_inputs({"fiscal": 100}, "按计划完成年度总体目标。", [trainings, 0.85, "达成年度指标", 0.95],
                       [None, None, None, "发放问卷120份，满意率95%"], [None, None, 20, None])


def filled(project, dst: Path, trainings: int, version: int = 1) -> Path:
    """A return as Excel saves it (inputs and every cached formula value)."""
    write(str(dst), [SheetSpec(project, form_kind(project.form), version, "自评表", inputs(trainings))], None,
          "2026-01-01T00:00:00+00:00")
    return dst


def give_links(db_location) -> dict[str, str]:
    """A link for each department: {department: token}; the store keeps only the hashes."""
    store = Store(db_location)
    tokens = {}
    try:
        for department in sorted({d for _, d, _ in PLAN}):
            tokens[department] = auth.new_token()
            store.set_link(department, auth.token_hash(tokens[department]), "2026-01-01T00:00:00+00:00")
    finally:
        store.close()
    return tokens


def set_up(root: Path, db_url: str | None = None) -> dict:
    """The PLAN issued and its links given, as an office sets up: the registry beside the forms (in the
    PostgreSQL database when `db_url` names one), the collection in `db_url` or root/collect.db.
    {registry, db (as given to the desk), location (of the collection), forms, tokens}."""
    db = db_url or str(root / "collect.db")
    registry = db_url if db_url and db_url.startswith("postgresql://") else str(root / "registry.db")
    forms = issue(root, registry)
    location = locate(db, Path("unused"))
    return {"registry": registry, "db": db, "location": location, "forms": forms, "tokens": give_links(location)}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@contextmanager
def chromium(*arguments: str):
    """Debian's headless Chromium driven by its own chromedriver (nothing downloaded), in a private profile;
    skipped only where it is missing outside CI (CI installs it: there these tests must run)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()) and not os.environ.get("CI"):
        pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver); CI runs these tests")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix="xlform-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                f"--user-data-dir={profile}", *arguments):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)

