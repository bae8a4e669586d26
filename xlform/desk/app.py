"""The desk's web application (Flask): department pages behind private links, the office dashboard behind a
password, downloads. SQL stays in store.py and registry.py; each server thread keeps its own connections."""
from __future__ import annotations

import io
import re
import secrets
import sqlite3
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

from flask import Flask, Response, abort, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from ..errors import CannotRun
from ..collecting import monitoring
from ..issue.monitoring import SUFFIX as MONITORING_SUFFIX
from ..issue.registry import Registry
from ..storage.db import Location
from ..storage.review import Reviews
from ..storage.store import Store
from . import auth, charts
from . import review as desk_review
from .intake import (MB, STATE_ERRORS, STATE_MISSING, STATE_PASSED, STATE_REFUSED, STATE_UNREADABLE, STATE_WARNINGS,
                     Intake, display_name, note_of, size_text, state_of)

MAX_FILES = 20          # files in one upload request
SMALL_BODY = 16 * 1024  # what any other request may send: a login, a link issued (server.py checks it unread)
SESSION_HOURS = 8
RESULTS = {"stored": "已接收", "duplicate": "已接收（同一文件，只保存一次）", "rejected": "未能读取",
           "refused": "未接收（非本部门的表）", "too_large": "未接收（文件过大）", "not_workbook": "未接收（不是工作簿）",
           "blank": "未接收（空白表）"}
SHOWN_LINKS = 50        # new links waiting to be shown once, at most
SEVERITY = {"error": "错误", "warning": "提示"}


@dataclass
class DeskConfig:
    db: Location
    registry: Location
    uploads: Path
    admin: auth.Password
    max_file_bytes: int = 20 * MB
    password: str | None = None            # the workbook protection password, for blank forms rendered again
    secret_key: bytes | None = None        # signs the cookies; None: the desk's key file in `uploads`
    session_hours: float = SESSION_HOURS
    public_url: str | None = None          # the address departments reach the desk at: links carry it
    deadline: date | None = None           # shown on the department pages
    readers: int = 0                       # worker processes reading returns (serve: one a core); else threads


class _Connections(threading.local):
    store: Store | None = None
    registry: Registry | None = None


def create_app(config: DeskConfig) -> Flask:
    app = Flask(__name__, static_folder=None, template_folder="templates")   # no static files: nothing to list
    # MAX_FORM_MEMORY_SIZE bounds a text field (the CSRF token) in memory; Werkzeug also holds it against its
    # 64 KiB read chunk plus the bytes that may start a boundary, so 64 KiB refused most files over 100 KB
    app.config.update(
        SECRET_KEY=config.secret_key or auth.desk_key(config.uploads), SESSION_COOKIE_NAME="xlform_session",
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.session_hours),
        MAX_CONTENT_LENGTH=config.max_file_bytes * MAX_FILES + MB, MAX_FORM_MEMORY_SIZE=MB)
    readers = None
    if config.readers > 1:
        from .readers import Readers
        try:
            readers = Readers(config.registry, config.readers)
        except Exception as e:    # no worker processes here: the threads read, on one core
            app.logger.warning("reading returns in this process only: %s", e)
    intake = Intake(config.uploads, config.max_file_bytes, *([readers] if readers else []))
    local = _Connections()
    first = Store(config.db)    # the tables, once, before any request; then what a kill left behind
    try:
        Reviews(first)   # the 复核's tables too
        published, deleted = intake.sweep(first)
    finally:
        first.close()
    if published or deleted:
        app.logger.warning("uploads: %d committed file(s) published, %d unanswered left-over(s) deleted",
                           published, deleted)

    def store() -> Store:
        if local.store is None:
            local.store = Store(config.db)
        return local.store

    def registry() -> Registry:
        if local.registry is None:
            local.registry = Registry(config.registry, create=False)
        return local.registry

    def forget_connections():
        """After a database error: the next request of this thread connects again (a restarted server)."""
        for name in ("store", "registry"):
            opened = getattr(local, name)
            setattr(local, name, None)
            if opened is not None:
                try:
                    opened.close()
                except Exception:
                    pass

    # -- request bodies, limited before they are read -----------------------------------------------------
    links_seen = {"at": -1e9, "links": []}

    def logged_in(cookie: str) -> bool:
        """Whether a request's Cookie header carries a live login of the office (read before its body)."""
        from http.cookies import CookieError, SimpleCookie
        from itsdangerous import BadData
        try:
            jar = SimpleCookie()
            jar.load(cookie or "")
            held = jar.get(app.config["SESSION_COOKIE_NAME"])
            data = app.session_interface.get_signing_serializer(app).loads(
                held.value, max_age=int(app.permanent_session_lifetime.total_seconds())) if held else {}
            sid = data.get("admin") if isinstance(data, dict) else None
            return isinstance(sid, str) and store().session_alive(auth.token_hash(sid), time.time())
        except (CookieError, BadData):
            return False
        except Exception:      # the database away: the route itself answers
            forget_connections()
            return False

    def body_limit(method: str, path: str, cookie: str = "") -> int | None:
        """The bytes a request may send, from its request line (server.py asks, before the body is read);
        None for an upload to an unknown link. The links are read again when a token is not among them (a
        link issued a moment ago; a made-up one costs this one query, as its GET does) and every 2 seconds
        (a revoked link's upload is then refused by its route). The office's upload of review worksheets may send
        as much when its Cookie header carries a live login."""
        m = re.fullmatch(r"/d/([^/]{1,128})/upload", path)
        if method == "POST" and path == "/admin/review/upload":   # the office's review worksheets, logged in
            return app.config["MAX_CONTENT_LENGTH"] if logged_in(cookie) else SMALL_BODY
        if method != "POST" or not m:
            return SMALL_BODY
        for attempt in (1, 2):
            now = time.monotonic()
            if attempt == 2 or now - links_seen["at"] > 2:
                try:
                    links_seen.update(at=now, links=store().links())
                except Exception:      # the database away: the route itself answers (503)
                    forget_connections()
                    return app.config["MAX_CONTENT_LENGTH"]
            if auth.department_of(m.group(1), links_seen["links"]):
                return app.config["MAX_CONTENT_LENGTH"]
        return None

    app.body_limit = body_limit

    # -- every response -------------------------------------------------------------------------------
    @app.before_request
    def _nonce():
        g.nonce = secrets.token_urlsafe(16)
        refused = request.headers.get("X-Xlform-Refused")   # set by server.py's guard only
        if refused in ("404", "411", "413"):
            abort(int(refused))

    @app.context_processor
    def _globals():
        if "csrf" not in session:
            session["csrf"] = auth.new_csrf()
        return {"nonce": g.get("nonce", ""), "csrf": session["csrf"], "severity": SEVERITY,
                "max_size": size_text(config.max_file_bytes), "max_files": MAX_FILES}

    @app.after_request
    def _headers(response: Response):
        h = response.headers
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        h["Referrer-Policy"] = "no-referrer"          # a department's link never leaves in a Referer
        h["Cache-Control"] = "no-store"
        h["Content-Security-Policy"] = (f"default-src 'none'; script-src 'nonce-{g.get('nonce', '')}'; "
                                        "style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
                                        "frame-ancestors 'none'; base-uri 'none'")
        return response

    def way_back(code: int = 500) -> dict:
        """The link on a message page: a department's page under its link (not after a 404: the link may be
        the unknown one), the dashboard under /admin, else the first page."""
        m = re.match(r"/d/([A-Za-z0-9_-]{1,128})/", request.path)
        if m and code != 404:
            return {"back": url_for("department_home", token=m.group(1)), "back_text": "返回本部门报送页面"}
        if request.path.startswith("/admin"):
            return {"back": url_for("dashboard"), "back_text": "返回管理页面"}
        return {"back": url_for("index"), "back_text": "返回首页"}

    def log_refusal(code: int):
        """A body refused (too large, of unstated length) in the office's log: the department when the link is
        known, never the link itself."""
        m = re.match(r"/d/([^/]{1,128})/", request.path)
        who = ""
        if m:
            try:
                who = auth.department_of(m.group(1), store().links()) or "an unknown link"
            except Exception:
                who = "a link"
        app.logger.warning("refused unread (%d): %s %s%s, Content-Length %s, from %s", code, request.method,
                           re.sub(r"^/d/[^/]+", "/d/…", request.path), f" ({who})" if who else "",
                           request.headers.get("X-Xlform-Length") or request.content_length, request.remote_addr)

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException):
        if e.code in (411, 413):
            log_refusal(e.code)
        text = {400: "请求无效或页面已过期：请返回后重试。", 403: "无权访问。",
                404: "页面不存在，或链接无效、已被收回。请使用绩效管理部门发送的最新链接。",
                405: "此页面不能这样打开。请返回上一页，刷新后重试。",
                411: "请求缺少长度信息，未予处理。",
                413: f"上传的内容过大：每个文件不超过 {size_text(config.max_file_bytes)}，一次最多 {MAX_FILES} 个文件。"}
        return render_template("message.html", title="无法完成", text=text.get(e.code, "无法完成此请求。"),
                               **way_back(e.code)), e.code

    @app.errorhandler(CannotRun)
    @app.errorhandler(sqlite3.Error)
    def _database_error(e):
        forget_connections()
        app.logger.error("database: %s", e)
        return render_template("message.html", title="暂时无法处理",
                               text="服务器暂时无法读写数据库，本次操作未完成，已报送的内容不受影响。请稍后重试。",
                               **way_back()), 503

    @app.errorhandler(Exception)
    def _unexpected(e):   # a full disk, a bug: the department reads Chinese, the office's log has the detail
        if isinstance(e, HTTPException):
            return _http_error(e)
        app.logger.exception("unexpected error")
        return render_template("message.html", title="暂时无法处理",
                               text="服务器出现错误，本次操作未完成，已报送的内容不受影响。请稍后重试；"
                                    "如仍不行，请联系绩效管理部门。", **way_back()), 500

    def csrf_ok() -> bool:
        return auth.same(request.form.get("csrf"), session.get("csrf"))

    def check_csrf():
        if not csrf_ok():
            abort(400)

    def fresh_token():
        """A form sent from a page older than its session (a restart with another key, an expired session):
        the answer is the page again, with a new token, not a dead end."""
        session["csrf"] = auth.new_csrf()

    # -- departments ------------------------------------------------------------------------------------
    def department_or_404(token: str) -> str:
        department = auth.department_of(token, store().links())
        if department is None:
            abort(404)
        return department

    def issued_to(department: str) -> list[tuple]:
        """(id, version, project) of the latest version of every template issued to the department."""
        return [(i, v, p) for i, v, p, d in registry().latest_issued() if d == department]

    def department_page(token: str, department: str, results=None, failed: int = 0, notice: str = "",
                        status: int = 200):
        forms = issued_to(department)
        current = {r[1]: r for r in store().current_submissions()}
        mine = {tid: current[tid] for tid, _, _ in forms if tid in current}
        problems = store().problems_of([r[0] for r in mine.values()])
        rows = [_form_row(tid, version, project, mine.get(tid), problems) for tid, version, project in forms]
        _monitored(store(), rows, [r for r in mine.values() if r[9] == monitoring.FORM])
        logged = store().uploads(department, limit=50)
        held = store().submissions_of({u["sha256"] for u in logged + (results or [])})
        uploads = [_upload_row(u, held) for u in logged]
        shown = [_result(u, held, size_text(config.max_file_bytes)) for u in results or []]
        return render_template("department.html", token=token, department=department, forms=rows, uploads=uploads,
                               results=shown, failed=failed, notice=notice, deadline=_day(config.deadline)), status

    @app.get("/d/<token>")
    def department_home(token):
        return department_page(token, department_or_404(token))

    @app.get("/d/<token>/upload")
    def department_upload_again(token):   # a reload or bookmark of the old answer's address
        department_or_404(token)
        return redirect(url_for("department_home", token=token), 303)

    @app.post("/d/<token>/upload")
    def department_upload(token):
        """Post/redirect/get: the answer is a page of its own (/d/TOKEN/result/IDS) that a reload shows again."""
        department = department_or_404(token)
        if not csrf_ok():
            fresh_token()
            return department_page(token, department, status=400,
                                   notice="页面已过期，本次上传未接收。页面已刷新，请重新选择文件上传。")
        files = [f for f in request.files.getlist("files") if f and (f.filename or f.content_length)]
        if len(files) > MAX_FILES:
            abort(413)
        if not files:
            return render_template("message.html", title="没有选择文件", text="请先选择或拖入要上传的自评表（.xlsx）。",
                                   back=url_for("department_home", token=token)), 400
        own = {tid for tid, _, _ in issued_to(department)}
        ids, failed = [], 0
        for f in files:   # one file failing never hides what became of the others
            try:
                ids.append(intake.accept(store(), registry(), department, own, f.filename, f.stream).id)
            except (CannotRun, sqlite3.Error, OSError) as e:
                forget_connections()
                app.logger.error("upload of %r: %s", display_name(f.filename), e)
                failed += 1
            finally:
                f.close()
        if not ids:
            return render_template("message.html", title="暂时无法保存", text=_note("failed"),
                                   back=url_for("department_home", token=token)), 503
        return redirect(url_for("department_result", token=token, ids="-".join(map(str, ids)),
                                **({"failed": failed} if failed else {})), 303)

    @app.get("/d/<token>/result/<ids>")
    def department_result(token, ids):
        department = department_or_404(token)
        if not re.fullmatch(r"\d{1,18}(-\d{1,18}){0,%d}" % (MAX_FILES - 1), ids):
            abort(404)
        wanted = [int(i) for i in ids.split("-")]
        found = {u["id"]: u for u in store().uploads(department, limit=MAX_FILES, ids=wanted)}
        if not found:   # another department's uploads are not found either
            abort(404)
        failed = request.args.get("failed", "0")   # (only ASCII: "²" is a digit to isdigit and none to int())
        return department_page(token, department, [found[i] for i in wanted if i in found],
                               int(failed) if re.fullmatch(r"[0-9]{1,3}", failed) and int(failed) <= MAX_FILES else 0)

    @app.get("/d/<token>/blank/<template_id>")
    def department_blank(token, template_id):
        department = department_or_404(token)
        issued = {tid: (v, project) for tid, v, project in issued_to(department)}
        if template_id not in issued:
            abort(404)
        version, project = issued[template_id]
        data = _blank_form(registry(), template_id, version, config.uploads / ".blank", config.password)
        return attachment(data, f"{_file_name(project) or template_id}.xlsx",
                          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                          f"{_file_name(template_id, ascii=True) or 'form'}.xlsx")

    # -- the office --------------------------------------------------------------------------------------
    def is_admin() -> bool:
        """A login lives in the database (desk_sessions): logging out ends it for every copy of the cookie,
        a restart keeps it (the cookie's key is kept in a file)."""
        sid = session.get("admin")
        return isinstance(sid, str) and store().session_alive(auth.token_hash(sid), time.time())

    def admin_only():
        if not is_admin():
            abort(redirect(url_for("login")))

    @app.get("/")
    def index():
        return render_template("message.html", title="绩效自评表报送",
                               text="各主管部门请使用绩效管理部门发送的专用链接报送自评表。",
                               back=url_for("login"), back_text="绩效管理部门登录")

    guesses = auth.Guesses()   # wrong passwords by client address: a guesser slows down itself only

    @app.route("/admin/login", methods=["GET", "POST"])
    def login():
        wrong = False
        if request.method == "POST":
            if not csrf_ok():
                fresh_token()
                return render_template("login.html"), 400
            address = request.remote_addr or ""
            wait = guesses.wait(address, time.time())
            if wait > 0:   # after 5 wrong passwords from this address, each further try waits its turn
                return render_template("login.html", wrong=True, wait=int(wait) + 1), 429
            if config.admin.matches(request.form.get("password", "")):
                guesses.forget(address)
                sid = auth.new_token()
                now = time.time()
                store().add_session(auth.token_hash(sid), _now(), now + config.session_hours * 3600, now)
                session.clear()
                session.permanent = True
                session["admin"] = sid
                session["csrf"] = auth.new_csrf()     # a new session: a token known before login is worthless
                return redirect(url_for("dashboard"))
            wait = guesses.failed(address, time.time())
            if wait:
                app.logger.warning("wrong office password from %s: %d in a row, the next try waits %d s",
                                   address, guesses.count(address), wait)
            wrong = True
        return render_template("login.html", wrong=wrong), 401 if wrong else 200

    @app.post("/admin/logout")
    def logout():
        check_csrf()
        if isinstance(session.get("admin"), str):
            store().drop_session(auth.token_hash(session["admin"]))
        session.clear()
        return redirect(url_for("login"))

    new_links: dict[str, tuple] = {}    # a key in the address -> (csrf of the session, department, link)
    new_links_lock = threading.Lock()

    @app.get("/admin")
    def dashboard():
        admin_only()
        new_link = None
        key = request.args.get("shown")
        if key:   # the link just issued, shown on this one GET; a reload finds it gone
            with new_links_lock:
                held = new_links.pop(key, None)
            if held and auth.same(held[0], session.get("csrf")):
                new_link = {"department": held[1], "url": held[2]}
            else:
                new_link = {"department": "", "url": ""}
        return dashboard_page(new_link)

    def dashboard_page(new_link=None):
        issued = registry().latest_issued()
        current = {r[1]: r for r in store().current_submissions()}
        problems = store().problems_of([current[i][0] for i, *_ in issued if i in current])
        departments: dict[str, dict] = {}
        projects = []
        for tid, version, project, department in issued:
            d = departments.setdefault(department or "", {"department": department or "", "issued": 0,
                                                          "returned": 0, "missing": 0, "errors": 0, "warnings": 0})
            d["issued"] += 1
            sub = current.get(tid)
            if sub is None:
                d["missing"] += 1
            else:
                d["returned"] += 1
                d["errors"] += bool(sub[4])
                d["warnings"] += bool(sub[5]) and not sub[4]
            projects.append({"department": department, **_form_row(tid, version, project, sub, problems)})
        links = {d: _local_time(at) for d, _, at in store().links()}
        logged = store().uploads(limit=300)
        held = store().submissions_of({u["sha256"] for u in logged})
        uploads = [_upload_row(u, held) for u in logged]
        pictures = charts.director(store().grade_counts(), store().department_averages())
        warned = _monitored(store(), projects, [r for r in current.values() if r[9] == monitoring.FORM])
        return render_template("dashboard.html", departments=list(departments.values()), projects=projects,
                               links=links, uploads=uploads, pictures=pictures, new_link=new_link, warned=warned,
                               review=desk_review.dashboard(store()),
                               states={"passed": STATE_PASSED, "warnings": STATE_WARNINGS, "errors": STATE_ERRORS})

    def known_department(name: str) -> str:
        if name not in {d for *_, d in registry().latest_issued()}:
            abort(400)
        return name

    def has_link(department: str) -> bool:
        return any(d == department for d, *_ in store().links())

    @app.get("/admin/links/confirm")
    def confirm_link():
        """重新发放 and 收回 end the link the department holds: asked first, on a page of its own."""
        admin_only()
        department = known_department(request.args.get("department", ""))
        action = request.args.get("action")
        if action not in ("issue", "revoke") or not has_link(department):
            return redirect(url_for("dashboard"), 303)
        return render_template("confirm.html", department=department, action=action)

    @app.post("/admin/links/issue")
    def issue_link():
        admin_only()
        check_csrf()
        department = known_department(request.form.get("department", ""))
        if has_link(department) and request.form.get("confirmed") != "1":
            return redirect(url_for("confirm_link", department=department, action="issue"), 303)
        token = auth.new_token()
        store().set_link(department, auth.token_hash(token), _now())
        link = public_url() + url_for("department_home", token=token)
        key = secrets.token_urlsafe(16)
        with new_links_lock:
            while len(new_links) >= SHOWN_LINKS:
                new_links.pop(next(iter(new_links)))
            new_links[key] = (session.get("csrf"), department, link)   # shown once, never stored
        return redirect(url_for("dashboard", shown=key), 303)

    @app.post("/admin/links/revoke")
    def revoke_link():
        admin_only()
        check_csrf()
        department = known_department(request.form.get("department", ""))
        if request.form.get("confirmed") != "1":
            return redirect(url_for("confirm_link", department=department, action="revoke"), 303)
        store().drop_link(department)
        return redirect(url_for("dashboard"), 303)

    def public_url() -> str:
        """What the office said departments reach the desk at (--public-url), never a request's Host header."""
        return (config.public_url or "http://localhost").rstrip("/")

    @app.post("/admin/current")
    def make_current():
        """An earlier upload becomes its templates' current return again (the latest was sent by mistake)."""
        admin_only()
        check_csrf()
        sha = request.form.get("sha256", "")
        held = store().submissions_of([sha]).get(sha) if re.fullmatch(r"[0-9a-f]{64}", sha) else None
        if not held:
            abort(400)

        def write():
            with store().transaction({h["template_id"] for h in held}):
                store().reinstate(sha, datetime.now(timezone.utc).isoformat(timespec="microseconds"))
        store().retrying(write)
        intake.flag_copies(store(), registry())   # its texts are current again, the later upload's no longer
        return redirect(url_for("dashboard") + "#uploads", 303)

    @app.get("/admin/summary.xlsx")
    def summary():
        admin_only()
        from ..collecting.summary import write_summary
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "summary.xlsx"
            write_summary(path, store(), _missing(registry(), store()), beside=False)   # in a server thread
            data = path.read_bytes()
        day = time.strftime('%Y%m%d')
        return attachment(data, f"汇总表-{day}.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                          f"summary-{day}.xlsx")

    @app.get("/admin/reports.zip")
    def reports():
        admin_only()
        from ..collecting.report import write_reports
        buffer = io.BytesIO()
        with tempfile.TemporaryDirectory() as tmp:
            written = write_reports(Path(tmp), store(), _missing(registry(), store()))
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
                for f in written:
                    z.write(f, f.name)
        day = time.strftime('%Y%m%d')
        return attachment(buffer.getvalue(), f"各部门问题报告-{day}.zip", "application/zip", f"reports-{day}.zip")

    @app.get("/admin/export.csv")
    def export():
        admin_only()
        from ..storage.record import record_from_dict, to_csv
        text = to_csv([record_from_dict(d) for d in store().current_records()])
        day = time.strftime('%Y%m%d')
        return attachment(text.encode("utf-8-sig"), f"自评结果-{day}.csv", "text/csv", f"export-{day}.csv")

    # -- the 复核 (desk/review.py) ----------------------------------------------------------------------------
    @app.get("/admin/review/worksheets.zip")
    def review_worksheets():
        admin_only()
        data = desk_review.worksheets_zip(store(), config.registry, config.password)
        if data is None:
            return render_template("message.html", title="尚未抽样", text="尚未抽取复核样本，请先抽样。",
                                   back=url_for("dashboard")), 404
        day = time.strftime('%Y%m%d')
        return attachment(data, f"复核表-{day}.zip", "application/zip", f"review-{day}.zip")

    @app.post("/admin/review/upload")
    def review_upload():
        admin_only()
        check_csrf()
        files = [f for f in request.files.getlist("files") if f and (f.filename or f.content_length)]
        if len(files) > MAX_FILES:
            abort(413)
        sent = []
        for f in files:
            try:
                data = f.stream.read(config.max_file_bytes + 1)
            finally:
                f.close()
            if len(data) > config.max_file_bytes:
                abort(413)
            sent.append((display_name(f.filename), data))
        results = desk_review.accept(store(), registry(), config.uploads / "review", sent)
        return render_template("review_result.html", results=results, severity=SEVERITY)

    @app.get("/admin/review/report.xlsx")
    def review_report():
        admin_only()
        day = time.strftime('%Y%m%d')
        return attachment(desk_review.report_xlsx(store()), f"复核报告-{day}.xlsx",
                          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", f"review-report-{day}.xlsx")

    app.desk_config = config
    app.readers = readers                  # closed by server.py when it stops
    return app


def attachment(data: bytes, name: str, mimetype: str, fallback: str | None = None) -> Response:
    """A download: Content-Disposition with a safe ASCII name and the real one (RFC 5987, UTF-8)."""
    stem, dot, suffix = name.rpartition(".")
    if fallback is None:
        fallback = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9.-]", "_", stem if dot else name)).strip("_.-")
        if not re.search(r"[A-Za-z0-9]", fallback):
            fallback = "xlform"
        fallback = f"{fallback}.{re.sub(r'[^A-Za-z0-9]', '', suffix)}" if dot else fallback
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
    return response


def _file_name(text: str | None, ascii: bool = False) -> str:
    """A project's name as a download's file name: no characters Windows refuses in a name, no control
    characters, at most 100 characters (`ascii`: letters, digits, - and _ only, for the fallback name)."""
    text = re.sub(r'[\\/:*?"<>|]+', " ", "".join(ch for ch in text or "" if ch.isprintable()))
    if ascii:
        text = re.sub(r"[^A-Za-z0-9_-]+", "-", text)
    return text.strip(" .-")[:100]


def _blank_form(registry: Registry, template_id: str, version: int, cache: Path, password) -> bytes:
    """The blank workbook render issued (its file, if still there), else rendered again from the registry."""
    issued = registry.issued_file(template_id, version)
    if issued and Path(issued[0]).is_file():
        return Path(issued[0]).read_bytes()
    target = cache / f"{template_id}-v{version}.xlsx"
    if not target.is_file():
        from ..kinds.forms import form_kind
        from ..outputs import atomic_write, now
        from ..xlsx.writer import SheetSpec, write
        found = registry.lookup(template_id, version)
        project = found["project"]
        kind = found["kind"] or form_kind(project.form)
        buffer = io.BytesIO()
        write(buffer, [SheetSpec(project, kind, version, issued[1] if issued else kind.spec["sheet"])], password, now())
        atomic_write(target, buffer.getvalue())
    return target.read_bytes()


def _missing(registry: Registry, store: Store) -> list[dict]:
    returned = store.current_templates()
    return [{"template_id": i, "version": v, "project": p, "department": d}
            for i, v, p, d in registry.latest_issued() if i not in returned]


def _monitored(store: Store, rows: list[dict], subs: list) -> dict:
    """The 监控表 among the forms listed: each row's warnings in a few words, and the office's table of them
    by 主管部门 and of the rows at risk (collecting/monitoring.py); {} where no 监控表 is current."""
    for row in rows:
        row["form"] = "监控表" if row["template_id"].endswith(MONITORING_SUFFIX) else ""
    if not subs:
        return {}
    records = {r["template"]["id"]: r for r in store.current_records(form=monitoring.FORM)}
    for row in rows:
        if row["template_id"] in records:
            row["warnings"] = monitoring.brief(records[row["template_id"]])
    mine = [records[s[1]] for s in subs if s[1] in records]
    return {"overview": monitoring.overview(mine), "details": monitoring.details(mine)}


def _form_row(tid: str, version, project: str, sub, problems: dict) -> dict:
    """An issued form as the pages list it: its state, score and problems (sub: its current submission).
    A return with errors has no 总分 or 评价等级 to show: what it says is not yet the department's answer."""
    graded = bool(sub) and not sub[4]
    return {"template_id": tid, "version": version, "project": project,
            "state": state_of(sub[4], sub[5]) if sub else STATE_MISSING,
            "total_score": sub[6] if graded else None, "grade": sub[7] if graded else None,
            "received_at": _local_time(sub[8]) if sub else "",
            "problems": [{"cell": c, "severity": s, "message": m} for c, s, _, m in problems.get(sub[0], [])]
            if sub else []}


def _upload_row(u: dict, held: dict) -> dict:
    """A line of the upload history; `current`: its file is a template's current return now, `earlier`:
    it was one and the office may make it current again (held: store.submissions_of)."""
    subs = held.get(u["sha256"], []) if u["result"] in ("stored", "duplicate") else []
    return {**u, "received_at": _local_time(u["received_at"]), "result_text": RESULTS.get(u["result"], "未接收"),
            "state": _upload_state(u), "current": any(h["status"] == "current" for h in subs),
            "earlier": any(h["status"] == "superseded" for h in subs)}


def _result(u: dict, held: dict, limit: str) -> dict:
    """What became of one uploaded file, from its line in the upload log: the answer page shows it again on
    every reload. Its sheets are the submissions stored from it; one with errors is shown without a grade."""
    sheets = [{"project": h["project"], "template_id": h["template_id"],
               "total_score": None if h["errors"] else h["total_score"], "grade": None if h["errors"] else h["grade"],
               "current": h["status"] == "current"}
              for h in (held.get(u["sha256"], []) if u["result"] in ("stored", "duplicate") else [])]
    return {"name": u["original_name"], "state": _upload_state(u), "note": note_of(u["result"], u["errors"],
            u["warnings"], limit), "problems": u["problems"], "sheets": sheets, "duplicate": u["result"] == "duplicate"}


def _note(result: str) -> str:
    return note_of(result, 0, 0, "")


def _day(d: date | None) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else ""


def _upload_state(u: dict) -> str:
    if u["result"] in ("stored", "duplicate"):
        return state_of(u["errors"], u["warnings"])
    return STATE_UNREADABLE if u["result"] == "rejected" else STATE_REFUSED


def _now() -> str:
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _local_time(stamp: str | None) -> str:
    """An ISO time in UTC as the machine's local time, to the second: 2026-05-12 14:03:27."""
    if not stamp:
        return ""
    from datetime import datetime
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return stamp
