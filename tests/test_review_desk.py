"""The 复核 on the desk (issue 20): behind the office's password, the newest sample's review worksheets are
downloaded, uploaded back filled (read at once, problems by cell, stored as `xlform review collect` stores
them), the dashboard shows each reviewed project's 复核总分, 偏离度 and class, and the report downloads."""
import io
import re
import zipfile
from pathlib import Path
from urllib.parse import urlencode

import openpyxl
import pytest
from click.testing import CliRunner

from desk_helpers import csrf_of
from review_helpers import collection
from xlform.cli import main
from xlform.desk import auth
from xlform.desk.app import DeskConfig, create_app
from xlform.storage.db import locate

PASSWORD = "复核办公室-2026"


@pytest.fixture()
def desk(tmp_path):
    db, registry, _ = collection(tmp_path / "c", {"甲局": 3, "乙局": 2})
    app = create_app(DeskConfig(locate(str(db), Path("x")), locate(str(registry), Path("x")), tmp_path / "uploads",
                                auth.Password.of(PASSWORD)))
    return app, db, registry


def login(client):
    page = client.get("/admin/login")
    assert client.post("/admin/login", data={"csrf": csrf_of(page.text), "password": PASSWORD}).status_code == 302


def row(html: str, tid: str) -> str:
    return re.search(rf'<tr data-template="{tid}">(.*?)</tr>', html, re.S).group(1)


def test_worksheets_download_upload_and_show_on_the_dashboard(desk, tmp_path):
    app, db, _ = desk
    c = app.test_client()
    assert c.get("/admin/review/worksheets.zip").status_code == 302       # the office's only
    login(c)
    assert c.get("/admin/review/worksheets.zip").status_code == 404       # no sample yet
    assert "尚未抽取复核样本" in c.get("/admin").text
    assert CliRunner().invoke(main, ["review", "sample", "--db", str(db), "--seed", "4", "--min", "5"]).exit_code == 0
    page = c.get("/admin").text
    assert "最新样本：5 个项目（共 5 个可抽项目，随机种子 4），已复核 0 个" in page
    got = c.get("/admin/review/worksheets.zip")
    assert got.status_code == 200 and "filename*=UTF-8''" in got.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(got.data)) as z:
        assert sorted(z.namelist()) == [f"p-00{n}.review.xlsx" for n in range(5)]
        z.extractall(tmp_path / "w")
    filled = []
    for tid, cells in (("p-000", {"K11": "无佐证", "N11": "无培训签到表"}), ("p-003", {"K12": "无佐证"})):
        wb = openpyxl.load_workbook(tmp_path / "w" / f"{tid}.review.xlsx")
        for ref, v in {**cells, "C17": "李审"}.items():
            wb["复核表"][ref] = v
        wb.save(tmp_path / f"{tid}.xlsx")
        filled.append(tmp_path / f"{tid}.xlsx")
    data = {"files": [(open(p, "rb"), p.name) for p in filled]}
    assert c.post("/admin/review/upload", data=data, content_type="multipart/form-data").status_code == 400  # no CSRF
    data = {"csrf": csrf_of(c.get("/admin").text), "files": [(open(p, "rb"), p.name) for p in filled]}
    answer = c.post("/admin/review/upload", data=data, content_type="multipart/form-data")
    assert answer.status_code == 200
    assert re.findall(r'class="result" data-state="([^"]+)"', answer.text) == ["stored", "errors"]
    assert "复核表!N12" in answer.text and "选择了扣分原因“无佐证”" in answer.text
    page = c.get("/admin").text
    # p-000: 全年预算数 100, 执行率 0.8 → 8; 自评 98, 培训次数 (30) to 0: 68; (98 − 68) / 98 = 0.3061
    assert re.search(r'review-total">68\.00<.*review-deviation">30\.61%<.*review-class">严重偏差<', row(page, "p-000"),
                     re.S)
    assert 'review-class">有错误<' in row(page, "p-003") and 'review-class">—<' in row(page, "p-001")
    report = c.get("/admin/review/report.xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(report.data))
    # p-003 (with an error, ranked all the same): 自评 97.77, 覆盖率 (30) to 0: 67.77, 30 / 97.77 → 0.3068
    assert [(r[2].value, r[5].value) for r in wb["排名"].iter_rows(min_row=2)] == [("项目03", 0.3068),
                                                                                ("项目00", 0.3061)]
    again = c.post("/admin/review/upload", content_type="multipart/form-data",
                   data={"csrf": csrf_of(c.get("/admin").text), "files": [(open(filled[0], "rb"), "again.xlsx")]})
    assert re.findall(r'class="result" data-state="([^"]+)"', again.text) == ["duplicate"]


def test_only_a_logged_in_office_may_send_worksheets_to_the_real_server(tmp_path):
    """The server decides a body's limit before reading it, from the request line and the Cookie header: an
    upload of worksheets without a live login is refused unread (413), with one it is read."""
    import http.client
    from desk_server import Desk
    db, registry, _ = collection(tmp_path / "c", {"甲局": 2})
    assert CliRunner().invoke(main, ["review", "sample", "--db", str(db), "--seed", "1"]).exit_code == 0
    desk = Desk(tmp_path, str(db), str(registry), PASSWORD)
    try:
        def request(method, path, body=b"", headers=None):
            con = http.client.HTTPConnection("127.0.0.1", desk.port, timeout=60)
            con.request(method, path, body, headers or {})
            r = con.getresponse()
            out = (r.status, r.getheader("Set-Cookie"), r.read().decode("utf-8", "replace"))
            con.close()
            return out

        _, cookie, page = request("GET", "/admin/login")
        jar = cookie.split(";")[0]
        form = urlencode({"csrf": csrf_of(page), "password": PASSWORD}).encode()
        status, cookie, _ = request("POST", "/admin/login", form,
                                    {"Content-Type": "application/x-www-form-urlencoded", "Cookie": jar})
        assert status == 302
        jar = cookie.split(";")[0]
        _, _, page = request("GET", "/admin", headers={"Cookie": jar})
        body = (b"--b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + csrf_of(page).encode() +
                b"\r\n--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x.xlsx\"\r\n\r\n" +
                b"\0" * 100_000 + b"\r\n--b--\r\n")
        kind = {"Content-Type": "multipart/form-data; boundary=b"}
        assert request("POST", "/admin/review/upload", body, kind)[0] == 413
        assert request("POST", "/admin/review/upload", body, {**kind, "Cookie": "xlform_session=forged"})[0] == 413
        status, _, answer = request("POST", "/admin/review/upload", body, {**kind, "Cookie": jar})
        assert status == 200 and "x.xlsx" in answer and 'data-state="errors"' in answer   # read: no workbook
    finally:
        desk.stop()
