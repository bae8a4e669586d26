"""The desk on a phone (issue 17): headless Chromium emulating a 390 px wide phone (mobile viewport, the
pages' viewport meta honoured) against `xlform serve`. No page scrolls sideways — the department page, the
answer to an upload whose problem quotes a long formula, the dashboard — and the pictures' text is at least
10 px high on the screen.

In CI (CI set) these tests run and never skip; elsewhere they are skipped only where Chromium is missing."""

import pytest

from desk_helpers import chromium, filled, set_up
from helpers import fill_openpyxl
from test_desk_browser import wait_for
from desk_server import Desk
from test_desk_crash import PASSWORD, send, session_of

PHONE = 390
LONG_FORMULA = "=" + "+".join(["PRODUCT(1,2)"] * 40)     # one unbroken 500-character word in a problem


@pytest.fixture(scope="module")
def phone():
    with chromium() as driver:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": PHONE, "height": 844, "deviceScaleFactor": 3, "mobile": True})
        yield driver


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    root = tmp_path_factory.mktemp("phone")
    office = set_up(root)
    forms, tokens = office["forms"], office["tokens"]
    server = Desk(root, office["db"], office["registry"], PASSWORD, uploads=root / "uploads")
    try:
        yield {"desk": server, "forms": forms, "tokens": tokens, "root": root}
    finally:
        server.stop()


def sideways(driver) -> tuple[int, int]:
    """(document width, window width) of the page shown."""
    return tuple(driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth];"))


def test_no_page_scrolls_sideways_on_a_phone(phone, desk):
    from selenium.webdriver.common.by import By
    server, token, root = desk["desk"], desk["tokens"]["甲局"], desk["root"]
    cookie, csrf = session_of(server, token)
    formula = fill_openpyxl(desk["forms"]["desk-a-01"][1], root / "公式.xlsx",
                            {"F7": 80, "F11": "完成", "F13": LONG_FORMULA, "F14": 0.85, "F15": "达成年度指标",
                             "H15": 20, "F16": 0.95})
    answer = send(server, token, cookie, csrf, formula)
    send(server, token, cookie, csrf, filled(desk["forms"]["desk-a-02"][0], root / "宣传.xlsx", trainings=4))

    phone.get(f"{server.url}/d/{token}")
    assert phone.execute_script("return window.innerWidth") == PHONE
    assert sideways(phone) == (PHONE, PHONE), "the department page"
    phone.get(server.url + answer)
    assert "PRODUCT(1,2)+PRODUCT(1,2)" in phone.find_element(By.ID, "results").text   # the formula is shown
    assert sideways(phone) == (PHONE, PHONE), "the answer with a long formula"
    # not by hiding what is too wide: nothing on the pages clips sideways
    assert phone.execute_script("return [getComputedStyle(document.documentElement).overflowX, "
                                "getComputedStyle(document.body).overflowX]") == ["visible", "visible"]

    phone.get(f"{server.url}/admin")
    phone.find_element(By.ID, "password").send_keys(PASSWORD)
    phone.find_element(By.ID, "login").click()
    wait_for(lambda: phone.find_elements(By.ID, "departments"), what="the dashboard")
    assert sideways(phone) == (PHONE, PHONE), "the dashboard"
    # the pictures: every text at least 10 px high as drawn on the phone's screen
    sizes = phone.execute_script(
        "return Array.from(document.querySelectorAll('svg.chart text')).map(function (t) {"
        "  return t.ownerSVGElement.getScreenCTM().a * parseFloat(getComputedStyle(t).fontSize); });")
    assert len(sizes) >= 3 * 3 and min(sizes) >= 10, sorted(sizes)[:3]
