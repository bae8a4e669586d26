"""A large return through headless Chromium: a form filled and saved by LibreOffice, grown to 5 MB by an
image part (as a pasted stamp grows it), picked with the file picker and sent by the page's own form. Before,
Werkzeug refused such a file (413, 上传的内容过大) though it was far below the 20 MB limit. Skipped, like
tests/test_desk_browser.py, only where Chromium is missing outside CI."""
import hashlib
import time

from desk_helpers import give_links, inputs, issue
from desk_server import Desk, padded
from helpers import cells_for
from test_desk_browser import browser, wait_for  # noqa: F401  (the headless Chromium fixture)
from test_postgres import query
from xlform.storage.db import locate
from xlform.desk.intake import MB

PASSWORD = "office-password-2026"


def test_a_five_megabyte_return_is_accepted_in_the_browser(browser, lo, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    forms = issue(tmp_path, str(tmp_path / "registry.db"))
    db = tmp_path / "collect.db"
    tokens = give_links(locate(str(db), db))
    desk = Desk(tmp_path, str(db), str(tmp_path / "registry.db"), PASSWORD)
    try:
        project, issued = forms["desk-a-01"]
        saved = tmp_path / "saved-by-libreoffice.xlsx"
        lo.fill(issued, saved, cells_for(project, inputs(4)))
        large = padded(saved, tmp_path / "甲局培训项目（含印章）.xlsx", 5 * MB)
        browser.get(f"http://127.0.0.1:{desk.port}/d/{tokens['甲局']}")
        browser.find_element(By.ID, "files").send_keys(str(large))
        started = time.monotonic()
        browser.find_element(By.ID, "send").click()
        wait_for(lambda: browser.find_elements(By.ID, "results") or browser.find_elements(By.ID, "message"),
                 seconds=60, what="the checked answer")
        took = time.monotonic() - started
        assert not browser.find_elements(By.ID, "message"), browser.find_element(By.ID, "message").text
        result = browser.find_element(By.CSS_SELECTOR, "#results .result")
        assert result.get_attribute("data-state") == "已通过" and "总分 100.00" in result.text
        assert took < 30      # 0.26 s measured; a far bound for a busy machine
        sha = hashlib.sha256(large.read_bytes()).hexdigest()
        assert query(str(db), f"SELECT status FROM submissions WHERE sha256='{sha}'") == [("current",)]
        assert desk.left_on_disk() == []
    finally:
        desk.stop()
