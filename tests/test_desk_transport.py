"""The desk under real use, on the network side: returns of every real size accepted (0.5, 5 and 19 MB
through the real server; many 1 MB ones through Flask), request bodies limited before they are read (an
unknown link refused unread, nothing left on disk), slow sockets starving no one, wrong passwords slowing
only their sender, office logins kept on the server (logout ends every copy, a restart ends none), stale
forms answered with a fresh page, and a way back from every message page."""
import hashlib
import logging
import re
import socket
import threading
import time
from pathlib import Path

import pytest

from desk_helpers import csrf_of, filled, give_links, issue, set_up
from desk_server import Desk, cookie_of, multipart, padded
from test_postgres import query
from xlform.storage.db import locate
from xlform.desk import auth
from xlform.desk.app import DeskConfig, create_app
from xlform.desk.intake import MB
from xlform.storage.store import Store

PASSWORD = "纸面之外-2026"


def states(html: str) -> list[str]:
    return re.findall(r'class="result" data-state="([^"]+)"', html)


def back_link(html: str) -> str:
    return re.search(r'<a class="button" href="([^"]+)"', html).group(1)


# -- through Flask, on both engines -------------------------------------------------------------------------
@pytest.fixture()
def office(db_url, tmp_path):
    office = set_up(tmp_path, db_url)
    registry, db, forms, tokens = office["registry"], office["location"], office["forms"], office["tokens"]

    def app():   # the desk as started: a second call is the desk restarted over the same database and folder
        return create_app(DeskConfig(db, locate(registry, Path("unused")), tmp_path / "uploads",
                                     auth.Password.of(PASSWORD)))
    return {"app": app, "forms": forms, "tokens": tokens, "db": db_url, "root": tmp_path}


def login(client, password=PASSWORD, address="10.0.0.1"):
    page = client.get("/admin/login", environ_base={"REMOTE_ADDR": address})
    return client.post("/admin/login", data={"csrf": csrf_of(page.text), "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_returns_of_a_megabyte_are_accepted_every_time(office):
    """Werkzeug's form parser refused most files over 100 KB (413) while MAX_FORM_MEMORY_SIZE was its 64 KiB
    read chunk: 1 MB returns passed 0 times in 40. Twenty different ones now pass twenty times."""
    c = office["app"]().test_client()
    token = office["tokens"]["甲局"]
    src = filled(office["forms"]["desk-a-01"][0], office["root"] / "a.xlsx", trainings=4)
    for n in range(20):
        big = padded(src, office["root"] / f"big-{n}.xlsx", MB)
        page = c.get(f"/d/{token}")
        r = c.post(f"/d/{token}/upload", data={"csrf": csrf_of(page.text), "files": [(open(big, "rb"), big.name)]},
                   content_type="multipart/form-data", follow_redirects=True)
        assert r.status_code == 200 and states(r.text) == ["已通过"], (n, r.status_code)
    assert query(office["db"], "SELECT COUNT(*) FROM uploads WHERE result='stored'") == [(20,)]


def test_a_wrong_password_slows_its_sender_only(office, caplog, monkeypatch):
    import xlform.desk.app as desk_app
    app = office["app"]()
    guesser, office_pc = app.test_client(), app.test_client()
    for _ in range(5):
        assert login(guesser, "wrong password", "10.0.0.66").status_code == 401
    with caplog.at_level(logging.WARNING):
        assert login(guesser, "wrong password", "10.0.0.66").status_code == 429   # its 6th waits
    # the office, at another address, logs in at once, with the guesser still waiting
    r = login(office_pc, address="10.0.0.5")
    assert r.status_code == 302 and office_pc.get("/admin").status_code == 200
    assert login(app.test_client(), address="10.0.0.66").status_code == 429    # even right, the guesser waits
    assert "wrong office password from 10.0.0.66" in caplog.text                 # and the office's log says so
    # the waits grow 1, 2, 4 … seconds, for that address only, up to 300
    guesses = auth.Guesses()
    waits = [guesses.failed("10.0.0.66", 1000.0 + i * 400) for i in range(14)]
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert guesses.wait("10.0.0.67", 1000.0 + 13 * 400) == 0
    later = desk_app.time.time() + 2
    monkeypatch.setattr(desk_app.time, "time", lambda: later)
    assert login(app.test_client(), address="10.0.0.66").status_code == 302      # its wait over, the right one


def test_logout_ends_the_session_for_every_copy_and_a_restart_ends_none(office):
    app = office["app"]()
    c = app.test_client()
    assert login(c).status_code == 302
    cookie = c.get_cookie("xlform_session").value
    # a copy of the cookie (another tab, a copied header) opens the dashboard, until the office logs out
    copy = app.test_client()
    copy.set_cookie("xlform_session", cookie)
    assert copy.get("/admin").status_code == 200
    rows = query(office["db"], "SELECT id_sha256 FROM desk_sessions")
    assert len(rows) == 1 and cookie not in rows[0][0]             # only a hash of the login is stored
    # the desk restarted: the same cookie still opens the dashboard
    again = office["app"]().test_client()
    again.set_cookie("xlform_session", cookie)
    assert again.get("/admin").status_code == 200
    r = c.post("/admin/logout", data={"csrf": csrf_of(c.get("/admin").text)})
    assert r.status_code == 302
    assert copy.get("/admin").status_code == 302 and again.get("/admin").status_code == 302   # every copy
    assert query(office["db"], "SELECT COUNT(*) FROM desk_sessions") == [(0,)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_cookies_key_is_kept_beside_the_uploads_for_its_owner_only(office):
    office["app"]()
    key = office["root"] / "uploads" / auth.KEY_FILE
    assert len(key.read_bytes()) == 32
    import os
    if os.name == "posix":
        assert key.stat().st_mode & 0o777 == 0o600


def test_a_stale_form_gets_a_fresh_page(office):
    """A department page opened before the desk's key changed (or its cookie lost): the upload is not taken,
    the answer is the department's page with a new token, and the file sent again from it is taken."""
    c = office["app"]().test_client()
    token = office["tokens"]["甲局"]
    good = filled(office["forms"]["desk-a-01"][0], office["root"] / "good.xlsx", trainings=4)
    r = c.post(f"/d/{token}/upload", data={"csrf": "from-a-page-of-yesterday", "files": [(open(good, "rb"), "a.xlsx")]},
               content_type="multipart/form-data")
    assert r.status_code == 400 and "页面已过期" in r.text and 'id="upload"' in r.text
    fresh = csrf_of(r.text)
    r = c.post(f"/d/{token}/upload", data={"csrf": fresh, "files": [(open(good, "rb"), "a.xlsx")]},
               content_type="multipart/form-data", follow_redirects=True)
    assert r.status_code == 200 and states(r.text) == ["已通过"]
    # the login form too: its page again, with a token that works
    r = c.post("/admin/login", data={"csrf": "stale", "password": PASSWORD})
    assert r.status_code == 400 and 'id="password"' in r.text
    r = c.post("/admin/login", data={"csrf": csrf_of(r.text), "password": PASSWORD})
    assert r.status_code == 302


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_message_page_has_a_way_back(office, monkeypatch, caplog):
    app = office["app"]()
    c = app.test_client()
    token = office["tokens"]["甲局"]
    r = c.get(f"/d/{auth.new_token()}")                                          # 404: an unknown link
    assert r.status_code == 404 and back_link(r.text) == "/"
    r = c.post(f"/d/{token}/upload", data=b"--b--", content_type="multipart/form-data; boundary=b",
               environ_overrides={"CONTENT_LENGTH": str(20 * 21 * MB + 2)})     # 413: more than the route takes
    assert r.status_code == 413 and back_link(r.text) == f"/d/{token}"
    assert f"refused unread (413): POST /d/…/upload (甲局), Content-Length {20 * 21 * MB + 2}" in caplog.text
    assert token not in caplog.text                          # the office's log names the department, not its link
    login(c)
    r = c.post("/admin/links/issue", data={"csrf": csrf_of(c.get("/admin").text), "department": "丙局"})   # 400
    assert r.status_code == 400 and back_link(r.text) == "/admin"
    guesser = app.test_client()
    for _ in range(6):
        r = login(guesser, "wrong password", "10.0.0.9")
    assert r.status_code == 429 and 'action="/admin/login"' in r.text           # 429: the login form itself
    import xlform.desk.app as desk_app
    monkeypatch.setattr(desk_app, "_form_row", lambda *a: 1 / 0)                  # 500: a bug
    r = c.get(f"/d/{token}")
    assert r.status_code == 500 and back_link(r.text) == "/"
    for code in (400, 403, 404, 405, 411, 413):                                   # and whatever else aborts
        from werkzeug.exceptions import default_exceptions
        with app.test_request_context(f"/d/{token}/upload", method="POST"):
            response = app.make_response(app.handle_user_exception(default_exceptions[code]()))
            back = "/" if code == 404 else f"/d/{token}"            # a 404: the link may be the unknown one
            assert response.status_code == code and back_link(response.get_data(as_text=True)) == back


# -- through the real server ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    office = set_up(root)
    desk = Desk(root, office["db"], office["registry"], PASSWORD)
    yield {"desk": desk, "forms": office["forms"], "tokens": office["tokens"], "db": office["db"], "root": root}
    desk.stop()


def department_session(desk, token, source="127.0.0.1"):
    status, headers, page = desk.request("GET", f"/d/{token}", source=source)
    assert status == 200
    return cookie_of(headers), csrf_of(page)


@pytest.mark.parametrize("size", [MB // 2, 5 * MB, 19 * MB], ids=["0.5MB", "5MB", "19MB"])
def test_real_returns_up_to_the_limit_are_accepted(served, size):
    desk, token = served["desk"], served["tokens"]["甲局"]
    src = filled(served["forms"]["desk-a-02"][0], served["root"] / "a2.xlsx", trainings=4)
    big = padded(src, served["root"] / f"return-{size}.xlsx", size)
    cookie, csrf = department_session(desk, token)
    body, kind = multipart({"csrf": csrf}, [(big.name, big.read_bytes())])
    status, _, page = desk.request("POST", f"/d/{token}/upload", body, {"Content-Type": kind}, cookie)
    assert status == 200 and states(page) == ["已通过"], (status, page[:300])
    sha = hashlib.sha256(big.read_bytes()).hexdigest()
    [(path, status)] = query(served["db"], f"SELECT path, status FROM submissions WHERE sha256='{sha}'")
    assert status == "current" and Path(path).read_bytes() == big.read_bytes()
    assert desk.left_on_disk() == []          # nothing the request sent outlives it, but the stored return


def raw(desk, head: bytes, body: bytes = b"", source="127.0.0.1", timeout=30) -> bytes:
    """Send `head` (and as much of `body` as the server takes), return whatever the server answers."""
    s = socket.create_connection(("127.0.0.1", desk.port), timeout=timeout, source_address=(source, 0))
    try:
        s.sendall(head)
        try:
            s.sendall(body)
        except OSError:          # the server refused the body and closed: its answer is still there to read
            pass
        answer = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
        return answer
    finally:
        s.close()


def test_bodies_are_refused_by_route_before_they_are_read(served):
    desk, token = served["desk"], served["tokens"]["甲局"]
    huge = 400 * MB
    # an unknown link: the answer comes from the headers alone, no byte of the 400 MB sent
    answer = raw(desk, f"POST /d/{auth.new_token()}/upload HTTP/1.1\r\nHost: x\r\nContent-Length: {huge}\r\n"
                       "Content-Type: multipart/form-data; boundary=b\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 404") and "链接无效".encode() in answer and b"Connection: close" in answer
    # a known link sending more than 20 files of 20 MB, and any other route sending more than a few KB
    for line, length in ((f"POST /d/{token}/upload", 20 * 21 * MB + 1), ("POST /admin/login", 64 * 1024),
                         ("GET /", 20 * 1024), (f"GET /d/{token}", 20 * 1024)):
        answer = raw(desk, f"{line} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 413") and "上传的内容过大".encode() in answer, line
    # a body of unstated length (chunked) is refused too: browsers always state a form's length
    answer = raw(desk, f"POST /d/{token}/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 411")
    # a link issued a moment ago is known at once
    new = auth.new_token()
    store = Store(served["db"])
    try:
        store.set_link("乙局", auth.token_hash(new), "2026-01-01T00:00:00+00:00")
    finally:
        store.close()
    cookie, csrf = department_session(desk, new)
    src = filled(served["forms"]["desk-b-01"][0], served["root"] / "b-new.xlsx", trainings=4)
    body, kind = multipart({"csrf": csrf}, [("b.xlsx", src.read_bytes())])
    status, _, page = desk.request("POST", f"/d/{new}/upload", body, {"Content-Type": kind}, cookie)
    assert status == 200 and states(page) == ["已通过"]
    served["tokens"]["乙局"] = new
    # a client naming the refusal itself is not believed (the guard drops the header)
    status, _, page = desk.request("GET", f"/d/{token}", headers={"X-Xlform-Refused": "404"})
    assert status == 200
    assert desk.left_on_disk() == []


def test_bodies_sent_to_an_unknown_link_never_reach_the_disk(served):
    """Eight clients sending 50 MB each to a made-up link at once: refused unread, nothing spooled (before,
    waitress wrote each body to its temporary folder before the application saw the request)."""
    desk = served["desk"]
    seen = []

    def send():
        head = (f"POST /d/{auth.new_token()}/upload HTTP/1.1\r\nHost: x\r\nContent-Length: {50 * MB}\r\n"
                "Content-Type: multipart/form-data; boundary=b\r\n\r\n").encode()
        seen.append(raw(desk, head, b"\0" * (50 * MB)))
    senders = [threading.Thread(target=send) for _ in range(8)]
    for t in senders:
        t.start()
    peak = 0
    while any(t.is_alive() for t in senders):
        peak = max(peak, sum(p.stat().st_size for p in desk.tmp.rglob("*") if p.is_file()))
        time.sleep(0.01)
    assert len(seen) == 8 and all(a.startswith(b"HTTP/1.1 404") for a in seen)
    assert peak == 0 and desk.left_on_disk() == []


def test_slow_sockets_starve_no_one(served):
    """200 sockets from 200 addresses sending a header line every second (slowloris) and the desk still
    answers an upload from another client at once: waitress reads headers in its event loop, so a slow socket
    holds no thread (the desk stopped answering at 97 of them: waitress's default of 100 connections).
    Measured: 0.05 to 0.2 s with them on this 2-core machine, as without them; the bound is the issue's 2 s."""
    desk, token = served["desk"], served["tokens"]["乙局"]
    src = filled(served["forms"]["desk-b-01"][0], served["root"] / "b.xlsx", trainings=4)
    slow, stop = [], threading.Event()
    for n in range(200):
        s = socket.create_connection(("127.0.0.1", desk.port), timeout=10, source_address=(f"127.0.1.{n + 1}", 0))
        s.sendall(f"POST /d/{token}/upload HTTP/1.1\r\nHost: x\r\n".encode())
        slow.append(s)

    def trickle():
        n = 0
        while not stop.wait(1):
            n += 1
            for s in slow:
                try:
                    s.sendall(f"X-Slow-{n}: 1\r\n".encode())
                except OSError:
                    pass
    t = threading.Thread(target=trickle)
    t.start()
    try:
        time.sleep(2)
        cookie, csrf = department_session(desk, token)
        body, kind = multipart({"csrf": csrf}, [("b.xlsx", src.read_bytes())])
        started = time.monotonic()
        status, _, page = desk.request("POST", f"/d/{token}/upload", body, {"Content-Type": kind}, cookie)
        took = time.monotonic() - started
        assert status == 200 and states(page) == ["已通过"]
        assert took < 2, took
    finally:
        stop.set()
        t.join()
        for s in slow:
            s.close()


def test_one_address_holds_at_most_a_hundred_connections(served):
    from xlform.desk.server import PER_ADDRESS
    held = [socket.create_connection(("127.0.0.1", served["desk"].port), timeout=10, source_address=("127.0.2.1", 0))
            for _ in range(PER_ADDRESS + 20)]
    try:
        for s in held:
            s.setblocking(False)
        closed: set[int] = set()
        deadline = time.monotonic() + 30            # far: the desk closes them within a second on a quiet machine
        while len(closed) < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
            for n, s in enumerate(held):
                try:
                    if n not in closed and s.recv(1) == b"":   # closed by the desk
                        closed.add(n)
                except BlockingIOError:                        # still open, waiting for a request
                    pass
        time.sleep(0.5)                             # and no more than those: the rest stay open
        for n, s in enumerate(held):
            try:
                if n not in closed and s.recv(1) == b"":
                    closed.add(n)
            except BlockingIOError:
                pass
        assert len(closed) == 20
        assert served["desk"].request("GET", "/", source="127.0.2.2")[0] == 200   # another address: answered
    finally:
        for s in held:
            s.close()


def test_a_restart_keeps_the_office_logged_in_and_pages_working(served):
    desk, token = served["desk"], served["tokens"]["甲局"]
    status, headers, page = desk.request("GET", "/admin/login")
    cookie = cookie_of(headers)
    status, headers, _ = desk.request("POST", "/admin/login", f"csrf={csrf_of(page)}&password={PASSWORD}".encode(),
                                      {"Content-Type": "application/x-www-form-urlencoded"}, cookie)
    assert status == 302
    office_cookie = cookie_of(headers)
    department_cookie, csrf = department_session(desk, token)     # a department page left open
    desk.restart()
    assert desk.request("GET", "/admin", cookie=office_cookie)[0] == 200
    src = filled(served["forms"]["desk-a-01"][0], served["root"] / "open.xlsx", trainings=4)
    body, kind = multipart({"csrf": csrf}, [("open.xlsx", src.read_bytes())])
    status, _, page = desk.request("POST", f"/d/{token}/upload", body, {"Content-Type": kind}, department_cookie)
    assert status == 200 and states(page) == ["已通过"]


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_the_readers_end_with_the_desk_stopped_or_killed(tmp_path):
    """The desk reads returns in worker processes, one a core: none is left behind, whether the desk is
    stopped (SIGTERM, as a service manager stops it) or killed."""
    import os
    import signal
    office = set_up(tmp_path)
    desk = Desk(tmp_path, office["db"], office["registry"], PASSWORD)
    workers = children(desk.process.pid)
    if (os.cpu_count() or 1) > 1:
        assert len(workers) > os.cpu_count()     # one reader a core, and multiprocessing's resource tracker
    desk.stop()
    assert desk.process.returncode == 0
    deadline = time.monotonic() + 60
    while any(Path(f"/proc/{w}").exists() for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if Path(f"/proc/{w}").exists()]
    desk.start()
    workers = children(desk.process.pid)
    os.kill(desk.process.pid, signal.SIGKILL)
    desk.process.wait()
    deadline = time.monotonic() + 60     # they notice within a second; a far bound for a busy machine
    while any(Path(f"/proc/{w}").exists() for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if Path(f"/proc/{w}").exists()]


def test_the_served_desk_on_postgresql(pg_url, tmp_path):
    """`xlform serve` with the registry and the database on PostgreSQL: its readers connect on their own."""
    forms = issue(tmp_path, pg_url)
    tokens = give_links(locate(pg_url, Path("unused")))
    desk = Desk(tmp_path, pg_url, pg_url, PASSWORD)
    try:
        token = tokens["甲局"]
        src = filled(forms["desk-a-01"][0], tmp_path / "a.xlsx", trainings=4)
        big = padded(src, tmp_path / "a-5mb.xlsx", 5 * MB)
        cookie, csrf = department_session(desk, token)
        body, kind = multipart({"csrf": csrf}, [(big.name, big.read_bytes())])
        status, _, page = desk.request("POST", f"/d/{token}/upload", body, {"Content-Type": kind}, cookie)
        assert status == 200 and states(page) == ["已通过"]
        assert query(pg_url, "SELECT status FROM submissions WHERE template_id='desk-a-01'") == [("current",)]
        assert desk.left_on_disk() == []
    finally:
        desk.stop()
