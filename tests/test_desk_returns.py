"""The desk's pages under real use (issue 17), through Flask's test client on both engines: every form is
post/redirect/get (an upload's answer survives a reload; a new link is shown once and a reload issues no
other), 重新发放 and 收回 ask first, links carry --public-url whatever Host the browser sent, blank forms
download under the project's name, a blank form sent back is refused, the history marks the current file
and the office can make an earlier one current again, a return with errors is not graded, the department
page says what to do and by when, and no page shows `None`, English or a Python value."""
import io
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from desk_helpers import REASON_CELL, csrf_of, filled
from helpers import fill_openpyxl
from test_desk import PASSWORD, form_state, login, office, states, upload  # noqa: F401  (office: a fixture)
from test_postgres import query
from xlform.cli import main
from xlform.desk import auth
from xlform.desk.app import DeskConfig, create_app


def post_upload(client, token, path, name=None):
    """An upload as the browser sends it, not following the redirect."""
    page = client.get(f"/d/{token}")
    return client.post(f"/d/{token}/upload", data={"csrf": csrf_of(page.text),
                                                     "files": [(open(path, "rb"), name or Path(path).name)]},
                       content_type="multipart/form-data")


def admin(office_, **config):
    """The office's app (with `config` changes) and a logged-in client."""
    app = office_["app"]
    if config:
        base = app.desk_config
        app = create_app(DeskConfig(base.db, base.registry, base.uploads, base.admin, **config))
    c = app.test_client()
    assert login(c).status_code == 302
    return app, c


def test_an_upload_answers_on_a_page_that_a_reload_shows_again(office):
    c = office["app"].test_client()
    token = office["tokens"]["甲局"]
    wrong = filled(office["forms"]["desk-a-01"][0], office["root"] / "wrong.xlsx", trainings=2)
    r = post_upload(c, token, wrong)
    assert r.status_code == 303
    where = r.headers["Location"]
    assert re.fullmatch(rf"/d/{token}/result/\d+", where)
    first = c.get(where)
    for again in (c.get(where), c.get(where)):      # F5: the same answer, nothing sent or stored again
        assert again.status_code == 200 and states(again.text) == states(first.text) == ["有错误"]
        assert f'<span class="cell">{REASON_CELL}</span>' in again.text
    assert query(office["db"], "SELECT COUNT(*) FROM uploads") == [(1,)]
    assert query(office["db"], "SELECT COUNT(*) FROM submissions") == [(1,)]
    # the old answer's address, reloaded, leads to the department's page (no 405)
    r = c.get(f"/d/{token}/upload")
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/d/{token}")
    # another department's link does not show 甲局's answer; nor does a made-up one
    assert c.get(where.replace(token, office["tokens"]["乙局"])).status_code == 404
    assert c.get(f"/d/{token}/result/999999").status_code == 404
    assert c.get(f"/d/{token}/result/1;DROP").status_code == 404


def test_a_new_link_is_shown_once_and_a_reload_issues_no_other(office):
    _, c = admin(office, public_url="https://jxb.example.gov.cn/desk/")
    csrf = csrf_of(c.get("/admin").text)
    c.post("/admin/links/revoke", data={"csrf": csrf, "department": "乙局", "confirmed": "1"})
    assert query(office["db"], "SELECT COUNT(*) FROM department_links WHERE department='乙局'") == [(0,)]
    # 发放链接 (乙局 has none): no question, a redirect to a GET that shows the link
    c.set_cookie("xlform_session", c.get_cookie("xlform_session").value, domain="attacker.example")
    r = c.post("/admin/links/issue", data={"csrf": csrf, "department": "乙局"},
               environ_overrides={"HTTP_HOST": "attacker.example"})
    assert r.status_code == 303 and "/admin?shown=" in r.headers["Location"], r.headers.get("Location")
    page = c.get(r.headers["Location"])
    link = re.search(r'<span id="newurl">([^<]+)</span>', page.text).group(1)
    # the link carries the office's --public-url, never the Host header the request came with
    assert link.startswith("https://jxb.example.gov.cn/desk/d/") and "attacker" not in link
    [(stored,)] = query(office["db"], "SELECT token_sha256 FROM department_links WHERE department='乙局'")
    assert stored == auth.token_hash(link.rsplit("/", 1)[1])
    again = c.get(r.headers["Location"])                          # F5
    assert link not in again.text and "新链接只显示一次" in again.text
    assert query(office["db"], "SELECT token_sha256 FROM department_links WHERE department='乙局'") == [(stored,)]
    assert c.get("/d/" + link.rsplit("/", 1)[1]).status_code == 200          # the link shown still works
    # another session cannot pick up the link by its address
    r = c.post("/admin/links/issue", data={"csrf": csrf, "department": "乙局", "confirmed": "1"})
    other = office["app"].test_client()
    login(other)
    assert "newurl" not in other.get(r.headers["Location"]).text


def test_reissuing_and_revoking_ask_first(office):
    _, c = admin(office)
    token = office["tokens"]["甲局"]
    page = c.get("/admin").text
    row = re.search(r'<tr data-department="甲局">(.*?)</tr>', page, re.S).group(1)
    assert "<form" not in row                       # no button that acts on one click: links to a question
    ask = re.findall(r'href="([^"]+)">(重新发放|收回)<', row)
    assert [t for _, t in ask] == ["重新发放", "收回"]
    for href, _ in ask:
        question = c.get(href.replace("&amp;", "&"))
        assert question.status_code == 200 and ("立即失效" in question.text or "无法再打开" in question.text)
        assert 'name="confirmed" value="1"' in question.text and 'id="no"' in question.text
        assert c.get(f"/d/{token}").status_code == 200                     # asking changed nothing
    csrf = csrf_of(page)
    # a post without the answer (an old page, a script) is sent to the question, and changes nothing
    for action in ("issue", "revoke"):
        r = c.post(f"/admin/links/{action}", data={"csrf": csrf, "department": "甲局"})
        assert r.status_code == 303 and f"action={action}" in r.headers["Location"]
        assert c.get(f"/d/{token}").status_code == 200
    r = c.post("/admin/links/revoke", data={"csrf": csrf, "department": "甲局", "confirmed": "1"})
    assert r.status_code == 303 and c.get(f"/d/{token}").status_code == 404
    # the question page answered without its CSRF token is refused
    assert c.post("/admin/links/issue", data={"department": "乙局", "confirmed": "1"}).status_code == 400


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_takes_a_public_url_and_a_deadline(office, tmp_path):
    args = ["serve", "--db", office["db"], "--registry", office["registry"], "--port", "0"]
    env = {"XLFORM_ADMIN_PASSWORD": PASSWORD}
    r = CliRunner().invoke(main, args + ["--public-url", "desk.example"], env=env)
    assert r.exit_code == 2 and "--public-url" in r.output
    r = CliRunner().invoke(main, args + ["--deadline", "31/01/2027"], env=env)
    assert r.exit_code == 2 and "--deadline" in r.output


def test_blank_forms_download_under_the_project_name(office):
    c = office["app"].test_client()
    token = office["tokens"]["甲局"]
    for tid, project in (("desk-a-01", "甲局培训项目"), ("desk-a-02", "甲局宣传项目")):
        header = c.get(f"/d/{token}/blank/{tid}").headers["Content-Disposition"]
        m = re.fullmatch(r'attachment; filename="([ -~]+)"; filename\*=UTF-8\'\'([A-Za-z0-9%._~-]+)', header)
        assert m, header
        from urllib.parse import unquote
        assert m.group(1) == f"{tid}.xlsx" and unquote(m.group(2)) == f"{project}.xlsx"


def test_the_blank_form_sent_back_is_refused_and_the_return_stays(office):
    c = office["app"].test_client()
    token = office["tokens"]["甲局"]
    right = filled(office["forms"]["desk-a-01"][0], office["root"] / "right.xlsx", trainings=4)
    upload(c, token, right)
    blank = office["forms"]["desk-a-01"][1]                  # the issued form, nothing typed
    r = upload(c, token, blank, names=["甲局培训项目.xlsx"])
    assert states(r.text) == ["未接收"] and "这是未填写的空白表，未接收" in r.text
    assert form_state(r.text, "desk-a-01") == "已通过"
    assert query(office["db"], "SELECT status FROM submissions") == [("current",)]
    assert query(office["db"], "SELECT result FROM uploads ORDER BY id") == [("stored",), ("blank",)]
    assert {f.name.split(".")[0] for f in office["uploads"].glob("*.xlsx")} == {_sha(right)}


def _sha(path):
    import hashlib
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _history(html: str) -> list[tuple[str, bool]]:
    """(file name, marked current) of each line of the upload history, newest first."""
    table = re.search(r'<table id="uploads".*?</table>', html, re.S).group(0)
    return [(re.search(r'class="file">([^<]+)', row).group(1).strip(), '<strong class="mark">当前报送' in row)
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]]


def test_the_history_marks_the_current_file_and_the_office_can_go_back(office):
    c = office["app"].test_client()
    token = office["tokens"]["甲局"]
    project = office["forms"]["desk-a-01"][0]
    right = filled(project, office["root"] / "right.xlsx", trainings=4)
    worse = filled(project, office["root"] / "worse.xlsx", trainings=2)
    upload(c, token, right, names=["定稿.xlsx"])
    upload(c, token, worse, names=["误传.xlsx"])
    assert _history(c.get(f"/d/{token}").text) == [("误传.xlsx", True), ("定稿.xlsx", False)]
    _, o = admin(office)
    page = o.get("/admin").text
    assert _history(page) == [("误传.xlsx", True), ("定稿.xlsx", False)]
    # the office makes the earlier upload current again: a POST with its CSRF token
    assert o.post("/admin/current", data={"sha256": _sha(right)}).status_code == 400
    assert o.post("/admin/current", data={"csrf": csrf_of(page), "sha256": "f" * 64}).status_code == 400
    r = o.post("/admin/current", data={"csrf": csrf_of(page), "sha256": _sha(right)})
    assert r.status_code == 303
    assert query(office["db"], "SELECT sha256, status FROM submissions ORDER BY id") == [
        (_sha(right), "current"), (_sha(worse), "superseded")]
    department = c.get(f"/d/{token}").text
    assert _history(department) == [("误传.xlsx", False), ("定稿.xlsx", True)]
    assert form_state(department, "desk-a-01") == "已通过"
    # the department itself cannot: the action is the office's
    assert c.post("/admin/current", data={"csrf": csrf_of(department), "sha256": _sha(worse)}).status_code == 302
    assert query(office["db"], f"SELECT status FROM submissions WHERE sha256='{_sha(worse)}'") == [("superseded",)]


def test_a_return_with_errors_is_not_graded(office):
    c = office["app"].test_client()
    token = office["tokens"]["甲局"]
    wrong = filled(office["forms"]["desk-a-01"][0], office["root"] / "wrong.xlsx", trainings=2)
    right = filled(office["forms"]["desk-a-02"][0], office["root"] / "right.xlsx", trainings=4)
    r = upload(c, token, wrong)
    answer = re.search(r'<section id="results">(.*?)</section>', r.text, re.S).group(1)
    assert states(r.text) == ["有错误"] and "总分" not in answer and "评价等级" not in answer
    row = re.search(r'<tr data-template="desk-a-01">(.*?)</tr>', r.text, re.S).group(1)
    assert "有错误" in row and not re.search(r"\d+\.\d\d|优|良|中|差", re.sub(r"<ul.*?</ul>", "", row, flags=re.S))
    upload(c, token, right)
    # the store has the reader's 总分 and 评价等级 for it; the pages do not show them
    [(total, grade)] = query(office["db"], "SELECT total_score, grade FROM submissions WHERE errors > 0")
    assert total is not None and grade is not None
    _, o = admin(office)
    page = o.get("/admin").text
    row = re.search(r'<tr data-template="desk-a-01">(.*?)</tr>', page, re.S).group(1)
    assert "有错误" in row and f"{total:.2f}" not in row and f"<td>{grade}</td>" not in row
    grades = re.search(r'aria-label="评价等级分布（项目数）".*?</svg>', page, re.S).group(0)
    counted = dict(re.findall(r"<title>([^<：]+)：(\d+) 个</title>", grades))
    assert counted == {"优": "1", "良": "0", "中": "0", "差": "0", "有错误": "1"}


def test_the_department_page_says_what_to_do_and_by_when(office):
    app, _ = admin(office, deadline=date(2027, 1, 31))
    page = app.test_client().get(f"/d/{office['tokens']['甲局']}").text
    howto = re.search(r'<section id="howto">(.*?)</section>', page, re.S).group(1)
    assert "报送截止日期：2027年1月31日" in howto
    assert "下载" in howto and "上传" in howto and "修改后重新上传" in howto
    assert "报送截止" not in office["app"].test_client().get(f"/d/{office['tokens']['甲局']}").text


# -- words: what a department or the office reads ---------------------------------------------------------

class _Visible(HTMLParser):
    """The text a reader sees: text nodes outside script and style, the page title."""

    def __init__(self):
        super().__init__()
        self.skip, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def visible(html: str) -> str:
    p = _Visible()
    p.feed(html)
    return " ".join(p.parts)


# ASCII words a page may show: the formats and sizes it names, and what the test data holds (file names,
# template ids, sha256, cell references, the link address) — checked separately below
ALLOWED = {"xlsx", "Excel", "CSV", "SHA-256", "MB", "KB"}


def english(text: str, data: set[str]) -> list[str]:
    words = [w for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9_.:/+-]*", text) if re.search("[A-Za-z]", w)]
    return [w for w in words if w not in ALLOWED and w not in data and not re.fullmatch(r"[A-Z]{1,3}\d+", w)
            and not re.fullmatch(r"https?://\S+", w)]


def test_no_page_shows_none_english_or_a_python_value(office):
    token = office["tokens"]["甲局"]
    root = office["root"]
    project = office["forms"]["desk-a-01"][0]
    c = office["app"].test_client()
    wrong = filled(project, root / "wrong.xlsx", trainings=2)
    formula = fill_openpyxl(office["forms"]["desk-a-01"][1], root / "formula.xlsx",
                            {"F7": 80, "F11": "完成", "F13": "=" + "+".join(["PRODUCT(1,2)"] * 30), "F14": 0.85,
                             "F15": "达成年度指标", "H15": 20, "F16": 0.95})
    text = root / "notes.txt"
    text.write_text("x", encoding="utf-8")
    names = ["甲局培训项目.xlsx", "公式.xlsx", "notes.txt", "空白.xlsx"]
    r = upload(c, token, wrong, formula, text, office["forms"]["desk-a-02"][1], names=names)
    assert states(r.text) == ["有错误", "有错误", "未接收", "未接收"]
    data = set(office["forms"]) | {"desk-b-01", "notes.txt"}
    pages = {"result": r.text, "department": c.get(f"/d/{token}").text,
             "other department": c.get(f"/d/{office['tokens']['乙局']}").text,
             "home": c.get("/").text, "login": c.get("/admin/login").text,
             "404": c.get("/d/nothing").text, "405": c.put(f"/d/{token}").text,
             "400": c.post(f"/d/{token}/upload", data={}).text,
             "no file": c.post(f"/d/{token}/upload", data={"csrf": csrf_of(r.text)}).text}
    _, o = admin(office)
    pages["dashboard"] = o.get("/admin").text
    pages["confirm issue"] = o.get("/admin/links/confirm?department=甲局&action=issue").text
    pages["confirm revoke"] = o.get("/admin/links/confirm?department=甲局&action=revoke").text
    wrong_password = office["app"].test_client()
    pages["wrong password"] = login(wrong_password, "not the password").text
    shas = {_sha(p) for p in (wrong, formula, text, office["forms"]["desk-a-02"][1])}
    for name, html in pages.items():
        seen = visible(html)
        assert "None" not in seen and "True" not in seen and "False" not in seen and "nan" not in seen, name
        assert not re.search(r"[\[{]'|'[\]}]|\\u|\\x", seen), name       # no list, dict or escaped repr
        words = english(seen.replace("PRODUCT(1,2)", ""), data | shas)
        assert words == [], (name, words)
    assert "PRODUCT(1,2)+PRODUCT(1,2)" in pages["result"]        # the long formula, shown as typed


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_tier_left_blank_is_not_shown_as_none(office):
    """The finding: 完成情况为"None"，须填写偏差原因… on the answer page, for a tier left blank with a score."""
    c = office["app"].test_client()
    untiered = fill_openpyxl(office["forms"]["desk-a-01"][1], office["root"] / "untiered.xlsx",
                             {"F7": 80, "F11": "完成", "F13": 4, "F14": 0.85, "H15": 10, "F16": 0.95})
    r = upload(c, office["tokens"]["甲局"], untiered)
    assert states(r.text) == ["有错误"] and "群众意识" in r.text
    assert "None" not in visible(r.text)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_file_the_server_cannot_keep_is_said_on_the_answer_page(office, monkeypatch):
    """Two files, the second failing to be kept (a full disk): the answer shows the first checked and says the
    other was not taken; the reload shows the same; nothing of the second is stored."""
    import xlform.desk.intake as intake
    c = office["app"].test_client()
    token = office["tokens"]["甲局"]
    good = filled(office["forms"]["desk-a-01"][0], office["root"] / "good.xlsx", trainings=4)
    other = filled(office["forms"]["desk-a-02"][0], office["root"] / "other.xlsx", trainings=4)
    read = intake.read_return

    def disk_full(path, registry):
        if path.name.startswith(_sha(other)):
            raise OSError(28, "No space left on device")
        return read(path, registry)
    monkeypatch.setattr(intake, "read_return", disk_full)
    page = c.get(f"/d/{token}")
    r = c.post(f"/d/{token}/upload", data={"csrf": csrf_of(page.text), "files": [(open(good, "rb"), "good.xlsx"),
                                                                              (open(other, "rb"), "other.xlsx")]},
               content_type="multipart/form-data")
    assert r.status_code == 303 and r.headers["Location"].endswith("?failed=1")
    for _ in range(2):
        answer = c.get(r.headers["Location"]).text
        assert states(answer) == ["已通过"] and "另有 1 个文件服务器暂时无法保存，未接收" in answer
        assert "None" not in visible(answer) and english(visible(answer), {"good.xlsx"}) == []
    assert query(office["db"], "SELECT template_id FROM submissions") == [("desk-a-01",)]
    assert not list((office["uploads"] / ".incoming").iterdir())


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_size_message_says_what_to_do(office):
    app, _ = admin(office, max_file_bytes=4096)
    c = app.test_client()
    r = c.post(f"/d/{office['tokens']['甲局']}/upload", data={"files": [(io.BytesIO(b"x" * (4096 * 21 + 2 ** 20)), "a.xlsx")]},
               content_type="multipart/form-data")
    seen = visible(r.text)
    assert r.status_code == 413 and "每个文件不超过 4 KB" in seen
    assert "None" not in seen and english(seen, set()) == []
