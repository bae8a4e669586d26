"""The desk (xlform serve) through Flask's test client, on both database engines: department links (only
hashes stored), each department seeing only its own forms, uploads checked at once and stored as `collect`
stores them, corrections superseding, refused and failed uploads changing nothing, CSRF, sizes, the upload
log, the office dashboard behind its password, downloads, and `xlform links`."""
import io
import re
import zipfile
from pathlib import Path
from urllib.parse import unquote

import openpyxl
import pytest
from click.testing import CliRunner

from desk_helpers import REASON_CELL, csrf_of, filled, set_up
from test_postgres import query
from xlform.cli import main
from xlform.storage.db import locate
from xlform.desk import auth
from xlform.desk.app import DeskConfig, create_app
from xlform.desk.intake import MB

PASSWORD = "纸面之外-2026"


@pytest.fixture()
def office(db_url, tmp_path):
    """Forms issued to 甲局 (two) and 乙局 (one), links for both, the desk app on `db_url`."""
    office = set_up(tmp_path, db_url)
    registry, db, forms, tokens = office["registry"], office["location"], office["forms"], office["tokens"]
    uploads = tmp_path / "uploads"
    app = create_app(DeskConfig(db, locate(registry, Path("unused")), uploads, auth.Password.of(PASSWORD)))
    return {"app": app, "forms": forms, "tokens": tokens, "db": db_url, "uploads": uploads, "root": tmp_path,
            "registry": registry}


def upload(client, token, *paths, csrf=None, names=None):
    page = client.get(f"/d/{token}")
    data = {"files": [(open(p, "rb"), n) for p, n in zip(paths, names or [Path(p).name for p in paths])]}
    if csrf is not False:
        data["csrf"] = csrf or csrf_of(page.text)
    return client.post(f"/d/{token}/upload", data=data, content_type="multipart/form-data", follow_redirects=True)


def states(html: str) -> list[str]:
    return re.findall(r'class="result" data-state="([^"]+)"', html)


def form_state(html: str, tid: str) -> str:
    row = re.search(rf'<tr data-template="{tid}">(.*?)</tr>', html, re.S).group(1)
    return re.search(r'class="state s-[^"]+">([^<]+)<', row).group(1)


def test_a_link_shows_its_department_forms_only(office):
    c = office["app"].test_client()
    a = c.get(f"/d/{office['tokens']['甲局']}")
    assert a.status_code == 200
    assert "甲局培训项目" in a.text and "甲局宣传项目" in a.text and "乙局监管项目" not in a.text
    assert form_state(a.text, "desk-a-01") == "未报送"
    b = c.get(f"/d/{office['tokens']['乙局']}")
    assert "乙局监管项目" in b.text and "甲局" not in b.text.split("<main>")[1]
    # a wrong, a truncated and an altered token are refused, in Chinese
    token = office["tokens"]["甲局"]
    for wrong in (auth.new_token(), token[:-1], token[:-1] + ("A" if token[-1] != "A" else "B")):
        r = c.get(f"/d/{wrong}")
        assert r.status_code == 404 and "链接无效" in r.text


def test_the_store_keeps_only_a_hash_of_each_link(office):
    rows = query(office["db"], "SELECT department, token_sha256 FROM department_links")
    assert {d for d, _ in rows} == {"甲局", "乙局"}
    for department, stored in rows:
        token = office["tokens"][department]
        assert stored == auth.token_hash(token) and token not in stored and len(token) >= 43


def test_blank_forms_download_only_by_their_department(office):
    c = office["app"].test_client()
    token = office["tokens"]["甲局"]
    r = c.get(f"/d/{token}/blank/desk-a-01")
    assert r.status_code == 200
    assert r.data == Path(office["forms"]["desk-a-01"][1]).read_bytes()   # the very file render issued
    # under the project's name (RFC 5987, UTF-8), the template id for a client reading only `filename`
    assert r.headers["Content-Disposition"] == ("attachment; filename=\"desk-a-01.xlsx\"; filename*=UTF-8''"
                                                "%E7%94%B2%E5%B1%80%E5%9F%B9%E8%AE%AD%E9%A1%B9%E7%9B%AE.xlsx")
    assert unquote("%E7%94%B2%E5%B1%80%E5%9F%B9%E8%AE%AD%E9%A1%B9%E7%9B%AE.xlsx") == "甲局培训项目.xlsx"
    assert c.get(f"/d/{token}/blank/desk-b-01").status_code == 404        # 乙局's form
    assert c.get(f"/d/{token}/blank/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_a_blank_form_whose_file_is_gone_is_rendered_again(office):
    from xlform.returns.reader import read_file
    from xlform.issue.registry import Registry
    Path(office["forms"]["desk-a-02"][1]).unlink()
    r = office["app"].test_client().get(f"/d/{office['tokens']['甲局']}/blank/desk-a-02")
    assert r.status_code == 200
    again = office["root"] / "again.xlsx"
    again.write_bytes(r.data)
    reg = Registry(office["registry"], create=False)
    try:
        [record] = read_file(again, reg)
    finally:
        reg.close()
    assert record.template["id"] == "desk-a-02" and record.project["name"] == "甲局宣传项目"
    assert {p.code for p in record.errors} <= {"blank_executed", "blank_actual", "blank_score"}  # blank, not forged


def test_a_mistake_is_shown_at_its_cell_and_the_correction_becomes_current(office):
    project = office["forms"]["desk-a-01"][0]
    c = office["app"].test_client()
    token = office["tokens"]["甲局"]
    wrong = filled(project, office["root"] / "wrong.xlsx", trainings=2)
    r = upload(c, token, wrong, names=["甲局培训项目自评表.xlsx"])
    assert r.status_code == 200 and states(r.text) == ["有错误"]
    assert f'<span class="cell">{REASON_CELL}</span> “培训次数”得分 15 低于分值 30，须填写偏差原因分析及改进措施。' in r.text
    assert form_state(r.text, "desk-a-01") == "有错误"
    right = filled(project, office["root"] / "right.xlsx", trainings=4)
    r = upload(c, token, right, names=["甲局培训项目自评表（修改）.xlsx"])
    assert states(r.text) == ["已通过"] and form_state(r.text, "desk-a-01") == "已通过"
    assert "总分 100.00" in r.text and "评价等级 优" in r.text
    # stored as collect stores a file: the correction current, the first in the history
    rows = query(office["db"], "SELECT status, errors, path FROM submissions WHERE template_id='desk-a-01' ORDER BY id")
    assert [(s, e) for s, e, _ in rows] == [("superseded", 1), ("current", 0)]
    for (_, _, path), src in zip(rows, (wrong, right)):
        stored = Path(path)
        assert stored.parent == office["uploads"] and stored.read_bytes() == src.read_bytes()
        assert re.fullmatch(r"[0-9a-f]{64}\.xlsx", stored.name)   # the server's name, never the browser's
    log = query(office["db"], "SELECT department, original_name, sha256, size, result, errors FROM uploads ORDER BY id")
    assert [(d, n, r, e) for d, n, _, _, r, e in log] == [("甲局", "甲局培训项目自评表.xlsx", "stored", 1),
                                                         ("甲局", "甲局培训项目自评表（修改）.xlsx", "stored", 0)]
    assert [(sha, size) for _, _, sha, size, _, _ in log] == [(Path(p).stem, Path(p).stat().st_size) for *_, p in rows]
    # and 乙局 sees nothing of it
    b = c.get(f"/d/{office['tokens']['乙局']}").text
    assert "甲局培训项目" not in b and "自评表（修改）" not in b


def test_a_file_sent_again_is_the_current_return_again(office):
    """Right, then wrong, then the right file once more: the office sees what the department sees."""
    project = office["forms"]["desk-a-01"][0]
    c = office["app"].test_client()
    token = office["tokens"]["甲局"]
    right = filled(project, office["root"] / "right.xlsx", trainings=4)
    wrong = filled(project, office["root"] / "wrong.xlsx", trainings=2)
    upload(c, token, right)
    r = upload(c, token, wrong)
    assert form_state(r.text, "desk-a-01") == "有错误"
    r = upload(c, token, right)
    assert states(r.text) == ["已通过"] and form_state(r.text, "desk-a-01") == "已通过"
    assert "此文件此前已收到，只保存一次" in r.text and "（本表的当前报送）" in r.text
    rows = query(office["db"], "SELECT status, errors FROM submissions WHERE template_id='desk-a-01' ORDER BY id")
    assert rows == [("current", 0), ("superseded", 1)]   # one row per content: sent twice, stored once


def test_several_files_in_one_upload(office):
    c = office["app"].test_client()
    a1, a2 = (filled(office["forms"][t][0], office["root"] / f"{t}.xlsx", trainings=4) for t in ("desk-a-01", "desk-a-02"))
    r = upload(c, office["tokens"]["甲局"], a1, a2)
    assert states(r.text) == ["已通过", "已通过"]
    assert form_state(r.text, "desk-a-01") == form_state(r.text, "desk-a-02") == "已通过"


def test_another_departments_form_is_refused_and_changes_nothing(office):
    c = office["app"].test_client()
    b_project = office["forms"]["desk-b-01"][0]
    theirs = filled(b_project, office["root"] / "b.xlsx", trainings=4)
    assert states(upload(c, office["tokens"]["乙局"], theirs).text) == ["已通过"]
    forged = filled(b_project, office["root"] / "b-forged.xlsx", trainings=1)   # 甲局 sends 乙局's form
    r = upload(c, office["tokens"]["甲局"], forged)
    assert states(r.text) == ["未接收"]
    assert "不是下发给本部门的表，未予接收" in r.text
    rows = query(office["db"], "SELECT status, errors FROM submissions WHERE template_id='desk-b-01'")
    assert rows == [("current", 0)]                                # 乙局's submission as it was
    assert query(office["db"], "SELECT department, result FROM uploads ORDER BY id") == [("乙局", "stored"),
                                                                                        ("甲局", "refused")]
    assert not list(office["uploads"].glob(f"{_sha(forged)}*"))     # not kept under the uploads either
    assert "b-forged.xlsx" not in c.get(f"/d/{office['tokens']['乙局']}").text


def _sha(path):
    import hashlib
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_failed_uploads_never_change_a_stored_submission(office):
    c = office["app"].test_client()
    token = office["tokens"]["甲局"]
    project = office["forms"]["desk-a-01"][0]
    good = filled(project, office["root"] / "good.xlsx", trainings=4)
    upload(c, token, good)
    broken = office["root"] / "broken.xlsx"
    broken.write_bytes(good.read_bytes()[: good.stat().st_size // 2])          # cut off in the mail
    text = office["root"] / "notes.txt"
    text.write_text("not a form", encoding="utf-8")
    old = office["root"] / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    r = upload(c, token, broken, text, old)
    assert states(r.text) == ["未能读取", "未接收", "未能读取"]
    assert "另存为 .xlsx" in r.text and "只接受 Excel 工作簿" in r.text
    assert form_state(r.text, "desk-a-01") == "已通过"
    assert query(office["db"], "SELECT status, errors FROM submissions WHERE template_id='desk-a-01'") == [("current", 0)]
    assert [r for r, in query(office["db"], "SELECT result FROM uploads ORDER BY id")] == \
        ["stored", "rejected", "not_workbook", "rejected"]


def test_a_file_above_the_limit_is_refused_unread(office, db_url):
    app = create_app(DeskConfig(locate(db_url, Path("x")), locate(office["registry"], Path("x")),
                                office["uploads"], auth.Password.of(PASSWORD), max_file_bytes=4096))
    c = app.test_client()
    big = filled(office["forms"]["desk-a-01"][0], office["root"] / "big.xlsx", trainings=4)
    assert big.stat().st_size > 4096
    r = upload(c, office["tokens"]["甲局"], big)
    assert states(r.text) == ["未接收"] and "文件超过 4 KB，未接收" in r.text
    [(result, size, sha)] = query(office["db"], "SELECT result, size, sha256 FROM uploads")
    assert result == "too_large" and size > 4096 and sha is None
    assert query(office["db"], "SELECT COUNT(*) FROM submissions") == [(0,)]
    assert not list(office["uploads"].glob("*.xlsx"))
    # the whole request is capped too (20 files of the limit): a larger body is refused before it is read
    r = c.post(f"/d/{office['tokens']['甲局']}/upload", data={"files": [(io.BytesIO(b"x" * (4096 * 21 + MB)), "a.xlsx")]},
               content_type="multipart/form-data")
    assert r.status_code == 413 and "每个文件不超过" in r.text


def test_uploads_and_forms_need_the_csrf_token(office):
    c = office["app"].test_client()
    token = office["tokens"]["甲局"]
    good = filled(office["forms"]["desk-a-01"][0], office["root"] / "good.xlsx", trainings=4)
    assert upload(c, token, good, csrf=False).status_code == 400
    assert upload(c, token, good, csrf="forged-" + "x" * 40).status_code == 400
    fresh = office["app"].test_client()                   # another browser: its page's token is not ours
    other = csrf_of(fresh.get(f"/d/{token}").text)
    assert upload(c, token, good, csrf=other).status_code == 400
    assert query(office["db"], "SELECT COUNT(*) FROM uploads") == [(0,)]
    assert query(office["db"], "SELECT COUNT(*) FROM submissions") == [(0,)]
    # the office's forms too: login, link issuing
    assert c.post("/admin/login", data={"password": PASSWORD}).status_code == 400
    login(c)
    assert c.post("/admin/links/issue", data={"department": "甲局"}).status_code == 400
    assert c.get(f"/d/{token}").status_code == 200          # 甲局's link unchanged


def login(client, password=PASSWORD):
    page = client.get("/admin/login")
    return client.post("/admin/login", data={"csrf": csrf_of(page.text), "password": password})


def test_the_dashboard_needs_the_password_and_expires(office, monkeypatch):
    c = office["app"].test_client()
    r = c.get("/admin")
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/login")
    assert c.get("/admin/summary.xlsx").status_code == 302 and c.get("/admin/export.csv").status_code == 302
    r = login(c, "wrong password")
    assert r.status_code == 401 and "密码不正确" in r.text
    r = login(c)
    assert r.status_code == 302 and c.get("/admin").status_code == 200
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Expires=" in cookie
    import xlform.desk.app as desk_app
    later = desk_app.time.time() + 8 * 3600 + 1
    monkeypatch.setattr(desk_app.time, "time", lambda: later)
    assert c.get("/admin").status_code == 302                # eight hours on: log in again


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_guessing_the_password_slows_down_the_guesser(office, monkeypatch):
    import xlform.desk.app as desk_app
    c = office["app"].test_client()
    for _ in range(5):
        assert login(c, "wrong password").status_code == 401
    r = login(c)   # from the guesser's address, the right password too must wait its turn now
                   # (another address is not slowed: tests/test_desk_transport.py)
    assert r.status_code == 429 and "密码错误次数过多" in r.text
    later = desk_app.time.time() + 2
    monkeypatch.setattr(desk_app.time, "time", lambda: later)
    assert login(c).status_code == 302


def test_the_dashboard_shows_every_department_project_and_upload(office):
    c = office["app"].test_client()
    project = office["forms"]["desk-a-01"][0]
    wrong = filled(project, office["root"] / "wrong.xlsx", trainings=2)
    upload(c, office["tokens"]["甲局"], wrong, names=["<img src=x onerror=alert(1)>初稿&.xlsx"])
    login(c)
    page = c.get("/admin").text
    row = re.search(r'<tr data-department="甲局">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["2", "1", "1", "1", "0"]  # issued returned missing errors warnings
    assert form_state(page, "desk-a-01") == "有错误" and form_state(page, "desk-b-01") == "未报送"
    assert REASON_CELL in page and _sha(wrong) in page
    assert "&lt;img src=x onerror=alert(1)&gt;初稿&amp;.xlsx" in page and "<img" not in page      # escaped
    assert page.count("<svg") == 3 and "评价等级分布" in page and "各主管部门平均总分" in page
    assert "各主管部门平均执行率" in page


def test_the_office_downloads(office):
    c = office["app"].test_client()
    upload(c, office["tokens"]["甲局"], filled(office["forms"]["desk-a-01"][0], office["root"] / "a.xlsx", trainings=4))
    login(c)
    r = c.get("/admin/summary.xlsx")
    assert r.status_code == 200 and "filename*=UTF-8''%E6%B1%87%E6%80%BB%E8%A1%A8-" in r.headers["Content-Disposition"]
    assert re.search(r'filename="summary-\d{8}\.xlsx"', r.headers["Content-Disposition"])
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    assert "图表" in wb.sheetnames and wb["汇总"]["B2"].value == "甲局培训项目"
    missing = sorted((row[0].value, row[2].value) for row in wb["未报送"].iter_rows(min_row=2))
    assert missing == [("乙局", "desk-b-01"), ("甲局", "desk-a-02")]
    r = c.get("/admin/reports.zip")
    names = zipfile.ZipFile(io.BytesIO(r.data)).namelist()
    assert {"甲局.html", "甲局.csv", "乙局.html", "乙局.csv"} <= set(names)
    r = c.get("/admin/export.csv")
    assert r.data.startswith(b"\xef\xbb\xbf") and "甲局培训项目" in r.data.decode("utf-8-sig")


def test_links_are_issued_and_revoked_on_the_dashboard(office):
    c = office["app"].test_client()
    login(c)
    csrf = csrf_of(c.get("/admin").text)
    r = c.post("/admin/links/issue", data={"csrf": csrf, "department": "甲局", "confirmed": "1"},
               follow_redirects=True)
    link = re.search(r'<span id="newurl">([^<]+)</span>', r.text).group(1)
    token = link.rsplit("/d/", 1)[1]
    assert c.get(f"/d/{token}").status_code == 200
    assert c.get(f"/d/{office['tokens']['甲局']}").status_code == 404      # the old link stops working
    assert token not in c.get("/admin").text                                 # shown once only
    assert c.post("/admin/links/issue", data={"csrf": csrf, "department": "丙局"}).status_code == 400
    c.post("/admin/links/revoke", data={"csrf": csrf, "department": "甲局", "confirmed": "1"})
    assert c.get(f"/d/{token}").status_code == 404
    assert c.get(f"/d/{office['tokens']['乙局']}").status_code == 200


def test_security_headers(office):
    c = office["app"].test_client()
    for url in (f"/d/{office['tokens']['甲局']}", "/admin/login", "/d/nothing", f"/d/{office['tokens']['甲局']}/blank/desk-a-01"):
        h = c.get(url).headers
        assert h["X-Content-Type-Options"] == "nosniff" and h["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in h["Content-Security-Policy"] and h["X-Frame-Options"] == "DENY"
    assert c.get("/static/").status_code == 404 and c.get("/uploads/").status_code == 404


def test_links_command(office, monkeypatch):
    monkeypatch.delenv("XLFORM_REGISTRY", raising=False)
    args = ["--db", office["db"], "--registry", office["registry"]]
    r = CliRunner().invoke(main, ["links", "issue", "乙局", *args, "--url", "http://desk.example:8080/"])
    assert r.exit_code == 0, r.output
    department, link = r.stdout.strip().split("\t")
    assert department == "乙局" and link.startswith("http://desk.example:8080/d/")
    c = office["app"].test_client()
    assert c.get(link.split(":8080", 1)[1]).status_code == 200
    r = CliRunner().invoke(main, ["links", "list", *args])
    assert r.exit_code == 0 and "乙局\tlink issued" in r.stdout and link.rsplit("/", 1)[1] not in r.stdout
    assert CliRunner().invoke(main, ["links", "revoke", "乙局", *args]).exit_code == 0
    assert c.get(link.split(":8080", 1)[1]).status_code == 404
    r = CliRunner().invoke(main, ["links", "issue", "丙局", *args])
    assert r.exit_code == 2 and "丙局" in r.output and "乙局, 甲局" in r.output
    assert CliRunner().invoke(main, ["links", "issue", *args]).exit_code == 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_cannot_run_without_a_password_or_a_registry(office, tmp_path, monkeypatch):
    monkeypatch.delenv("XLFORM_ADMIN_PASSWORD", raising=False)
    args = ["serve", "--db", office["db"], "--registry", office["registry"], "--port", "0"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and "XLFORM_ADMIN_PASSWORD" in r.output
    short = tmp_path / "pw"
    short.write_text("abc\n", encoding="utf-8")
    r = CliRunner().invoke(main, args + ["--admin-password-file", str(short)])
    assert r.exit_code == 2 and "shorter than 8" in r.output
    r = CliRunner().invoke(main, ["serve", "--db", office["db"], "--registry", str(tmp_path / "none.db")],
                           env={"XLFORM_ADMIN_PASSWORD": PASSWORD})
    assert r.exit_code == 2 and "no registry at" in r.output


def test_the_pictures_draw_the_numbers_and_escape_the_names():
    from xlform.desk.charts import director
    grades, averages = [("优", 3), ("良", 1), ("中", 0), ("差", 0)], [("<甲局>&", 2, 90.0, 1.0), ("乙局", 1, 45.0, 0.5)]
    grade_chart, score_chart, rate_chart = (str(p) for p in director(grades, averages))
    widths = [int(w) for w in re.findall(r'<rect x="\d+" y="\d+" width="(\d+)"', grade_chart)]
    assert abs(widths[0] - 3 * widths[1]) <= 1 and widths[1] > 0 and widths[2:] == [0, 0]   # bars in proportion
    assert "3 个" in grade_chart and "90.00" in score_chart and "50.00%" in rate_chart
    score_widths = [int(w) for w in re.findall(r'<rect x="\d+" y="\d+" width="(\d+)"', score_chart)]
    assert abs(score_widths[0] - 2 * score_widths[1]) <= 1
    assert "&lt;甲局&gt;&amp;" in score_chart and "<甲局>" not in score_chart
