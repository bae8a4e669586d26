"""The desk in a real browser: headless Chromium (Debian's chromium and chromium-driver, driven by Selenium
with the driver's path given, so nothing is downloaded) against `xlform serve` started as the office starts
it, on 127.0.0.1 and a free port. A department opens its link, downloads its blank form, fills it in
LibreOffice with one mistake, uploads it with the file picker, sees the problem at its cell, drops the
corrected file on the page, sees 已通过; the office's dashboard shows it; another department's link cannot
see or download it; a wrong link and a form without its CSRF token are refused.

In CI (CI set) these tests run and never skip; elsewhere they are skipped only where Chromium is missing."""
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desk_helpers import REASON_CELL, chromium, give_links, inputs, issue
from helpers import cells_for
from xlform.storage.db import locate

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "office-password-2026"


@pytest.fixture(scope="module")
def browser():
    with chromium("--window-size=1366,768") as driver:
        yield driver


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """`xlform serve` on a free port of 127.0.0.1 over a registry of 甲局's and 乙局's forms; stopped at the end."""
    root = tmp_path_factory.mktemp("desk")
    forms = issue(root, str(root / "registry.db"))
    db = root / "output" / "collect.db"
    tokens = give_links(locate(str(db), db))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XLFORM_ADMIN_PASSWORD": PASSWORD}
    server = subprocess.Popen([sys.executable, "-m", "xlform.cli", "serve", "--db", str(db), "--registry",
                               str(root / "registry.db"), "--host", "127.0.0.1", "--port", "0"],
                              cwd=root, env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = server.stderr.readline()
            if not line:
                break
            m = re.match(r"xlform desk on (http://127\.0\.0\.1:\d+)/", line)
            url = m.group(1) if m else None
        assert url, f"the desk did not start: {server.poll()}"
        yield {"url": url, "tokens": tokens, "forms": forms, "db": db, "root": root}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def count(db: Path, sql: str) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def wait_for(condition, seconds=20, what="the page"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def state_of(driver, tid: str) -> str:
    from selenium.webdriver.common.by import By
    return driver.find_element(By.CSS_SELECTOR, f'#forms tr[data-template="{tid}"] .state').text


def test_a_department_returns_its_form_and_the_office_sees_it(browser, desk, lo):
    from selenium.webdriver.common.by import By
    project, issued = desk["forms"]["desk-a-01"]
    link = f"{desk['url']}/d/{desk['tokens']['甲局']}"
    downloads = desk["root"] / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})

    # the department opens its link: its two forms, not yet returned
    browser.get(link)
    assert "甲局 · 项目支出绩效自评表报送" in browser.title + " " + browser.find_element(By.TAG_NAME, "h1").text
    assert state_of(browser, "desk-a-01") == "未报送" and "乙局监管项目" not in browser.page_source
    # ... downloads its blank form: the workbook render issued
    browser.find_element(By.CSS_SELECTOR, '#forms tr[data-template="desk-a-01"] a.download').click()
    blank = wait_for(lambda: [f for f in downloads.glob("*.xlsx")], what="the download")[0]
    wait_for(lambda: not list(downloads.glob("*.crdownload")) and blank.stat().st_size == issued.stat().st_size,
             what="the whole download")
    assert blank.read_bytes() == issued.read_bytes()

    # ... fills it in LibreOffice with one mistake (2 trainings of ≥4 and no 偏差原因) and picks it
    wrong = desk["root"] / "甲局培训项目.xlsx"
    lo.fill(blank, wrong, cells_for(project, inputs(2)))
    browser.find_element(By.ID, "files").send_keys(str(wrong))
    browser.find_element(By.ID, "send").click()
    wait_for(lambda: browser.find_elements(By.ID, "results"), what="the checked answer")  # the bench times it
    result = browser.find_element(By.CSS_SELECTOR, "#results .result")
    assert result.get_attribute("data-state") == "有错误"
    assert f"{REASON_CELL} “培训次数”得分 15 低于分值 30，须填写偏差原因分析及改进措施。" in result.text
    assert state_of(browser, "desk-a-01") == "有错误"

    # ... corrects it and drops the file on the page (the page's own drag-and-drop script sends it)
    right = desk["root"] / "甲局培训项目（修改）.xlsx"
    lo.fill(blank, right, cells_for(project, inputs(4)))
    picker = browser.execute_script(
        "var i = document.createElement('input'); i.type = 'file'; i.id = 'dragged'; "
        "i.style.display = 'block'; document.body.appendChild(i); return i;")
    picker.send_keys(str(right))
    browser.execute_script(
        "var dt = new DataTransfer(); dt.items.add(document.getElementById('dragged').files[0]);"
        "var drop = document.getElementById('drop');"
        "drop.dispatchEvent(new DragEvent('dragenter', {dataTransfer: dt, bubbles: true, cancelable: true}));"
        "drop.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));")
    wait_for(lambda: "（修改）" in browser.find_element(By.ID, "results").text
             if browser.find_elements(By.ID, "results") else False, what="the corrected file's answer")
    result = browser.find_element(By.CSS_SELECTOR, "#results .result")
    assert result.get_attribute("data-state") == "已通过" and "总分 100.00" in result.text
    assert state_of(browser, "desk-a-01") == "已通过"
    uploads = browser.find_element(By.ID, "uploads").text
    assert "甲局培训项目（修改）.xlsx" in uploads and "甲局培训项目.xlsx" in uploads

    # the office's dashboard shows it
    browser.get(f"{desk['url']}/admin")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login").click()
    wait_for(lambda: browser.find_elements(By.ID, "departments"), what="the dashboard")
    row = browser.find_element(By.CSS_SELECTOR, '#departments tr[data-department="甲局"]').text
    assert row.startswith("甲局 2 1 1 0 0")          # issued, returned, 未报送, with errors, with warnings
    project_row = browser.find_element(By.CSS_SELECTOR, '#projects tr[data-template="desk-a-01"]').text
    assert "已通过" in project_row and "100.00" in project_row and "优" in project_row
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.chart")) == 3
    assert browser.find_element(By.ID, "uploads").text.count("甲局培训项目") == 2

    # another department's link sees nothing of it and cannot download 甲局's form
    browser.get(f"{desk['url']}/d/{desk['tokens']['乙局']}")
    assert "乙局监管项目" in browser.page_source and "甲局培训项目" not in browser.page_source
    browser.get(f"{desk['url']}/d/{desk['tokens']['乙局']}/blank/desk-a-01")
    assert "链接无效" in browser.find_element(By.ID, "message").text
    assert len(list(downloads.glob("*.xlsx"))) == 1

    # a wrong link is refused
    browser.get(f"{desk['url']}/d/{desk['tokens']['甲局'][:-2]}xx")
    assert "链接无效" in browser.find_element(By.ID, "message").text and "甲局培训项目" not in browser.page_source

    # a form sent without its CSRF token is refused and stores nothing
    before = count(desk["db"], "SELECT COUNT(*) FROM uploads")
    browser.get(link)
    browser.execute_script("document.querySelector('#upload input[name=csrf]').remove();")
    browser.find_element(By.ID, "files").send_keys(str(wrong))
    browser.find_element(By.ID, "send").click()
    wait_for(lambda: browser.find_elements(By.ID, "results"), what="the refusal")
    assert "页面已过期，本次上传未接收" in browser.find_element(By.ID, "results").text   # the page again, a new token
    assert browser.find_element(By.CSS_SELECTOR, "#upload input[name=csrf]").get_attribute("value")
    assert count(desk["db"], "SELECT COUNT(*) FROM uploads") == before == 2
    assert count(desk["db"], "SELECT COUNT(*) FROM submissions WHERE status='current'") == 1
