"""The desk's result page with a count of failed uploads in its address that int() refuses: "²" is a digit to
str.isdigit and none to int(), 5,000 digits are more than int() takes. Each was a 500 (ValueError)."""
import pytest

from desk_helpers import csrf_of, filled
from test_desk import office   # noqa: F401  (a fixture)


@pytest.mark.parametrize("failed", ["²", "9" * 5000])
def test_a_failed_count_int_refuses_is_none(office, failed):   # noqa: F811
    c = office["app"].test_client()
    token = office["tokens"]["甲局"]
    sent = filled(office["forms"]["desk-a-01"][0], office["root"] / "r.xlsx", trainings=4)
    r = c.post(f"/d/{token}/upload", data={"csrf": csrf_of(c.get(f"/d/{token}").text),
                                           "files": [(open(sent, "rb"), "r.xlsx")]},
               content_type="multipart/form-data")
    assert r.status_code == 303
    page = c.get(r.headers["Location"] + f"?failed={failed}")
    assert page.status_code == 200 and "甲局" in page.text
