"""The desk killed mid-burst (issue 17): `xlform serve` started as a subprocess, 40 returns sent at once, the
server killed with SIGKILL after the first answers, started again. Every answered upload is stored once,
with its file under uploads/; nothing is left under uploads/ without its committed row, nor in .incoming/;
the department sending everything again stores each content once (by its sha256). On SQLite and PostgreSQL.

The moment between a commit and the file's publication is too short to hit by chance: a test of its own
stops an upload there (the rename never runs, nothing cleans up, as after a kill) and checks that the next
start publishes the file."""
import hashlib
import http.client
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from desk_helpers import csrf_of, filled, give_links, issue
from desk_server import Desk
from test_postgres import query
from xlform.storage.db import locate

PASSWORD = "office-password-2026"
STORED = re.compile(r"[0-9a-f]{64}\.xlsx")


def session_of(desk: Desk, token: str) -> tuple[str, str]:
    """(cookie, csrf token) of a department's page, as a browser holds them."""
    status, headers, body = desk.request("GET", f"/d/{token}")
    assert status == 200
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    return cookie, csrf_of(body)


def send(desk: Desk, token: str, cookie: str, csrf: str, path: Path) -> str | None:
    """One upload as a browser sends it: the answer's address (a 303 to the result page), None if the
    connection broke before an answer came."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{path.name}\"\r\n"
            "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n").encode()
    body += path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    try:
        status, headers, _ = desk.request("POST", f"/d/{token}/upload", body, {
            "Content-Type": f"multipart/form-data; boundary={boundary}"}, cookie, follow=False)
    except (OSError, http.client.HTTPException):
        return None
    assert status == 303, status
    return headers["Location"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def on_disk(uploads: Path) -> set[str]:
    return {f.name.split(".")[0] for f in uploads.iterdir() if STORED.fullmatch(f.name)}


def committed(db: str) -> set[str]:
    return {s for s, in query(db, "SELECT sha256 FROM files")}


@pytest.fixture()
def office(db_url, tmp_path):
    registry = str(tmp_path / "registry.db")
    forms = issue(tmp_path, registry)
    tokens = give_links(locate(db_url, Path("unused")))
    return {"root": tmp_path, "db": db_url, "registry": registry, "forms": forms, "tokens": tokens,
            "uploads": tmp_path / "uploads"}


def test_a_kill_mid_burst_loses_no_answered_upload_and_leaves_nothing_behind(office):
    root, uploads, token = office["root"], office["uploads"], office["tokens"]["甲局"]
    returns = [filled(office["forms"][tid][0], root / f"{tid}-{k}.xlsx", trainings=k)
               for k in range(20) for tid in ("desk-a-01", "desk-a-02")]         # 40 distinct contents
    assert len({sha(p) for p in returns}) == 40
    desk = Desk(root, office["db"], office["registry"], PASSWORD, "--threads", "8", uploads=uploads)
    answered: dict[Path, str] = {}
    enough = threading.Event()
    try:
        cookie, csrf = session_of(desk, token)

        def one(path):
            where = send(desk, token, cookie, csrf, path)
            if where:
                answered[path] = where
                if len(answered) >= 5:
                    enough.set()
        with ThreadPoolExecutor(40) as pool:
            for p in returns:
                pool.submit(one, p)
            assert enough.wait(120), "no five answers within 120 s (the burst takes a few seconds)"
            desk.kill()                                                           # mid-burst
        kept = dict(answered)
    finally:
        desk.stop()
    assert 5 <= len(kept) < 40, len(kept)
    desk = Desk(root, office["db"], office["registry"], PASSWORD, "--threads", "8", uploads=uploads)              # started again: the sweep
    try:
        stored = committed(office["db"])
        assert on_disk(uploads) == stored                 # a file exactly when its row is committed
        assert not list((uploads / ".incoming").iterdir())
        for path in kept:                                 # every answered upload stored, once, its bytes kept
            assert sha(path) in stored
            assert (uploads / f"{sha(path)}.xlsx").read_bytes() == path.read_bytes()
        answered_ids = [int(where.rsplit("/", 1)[1].split("?")[0]) for where in kept.values()]
        logged = query(office["db"], "SELECT id, sha256 FROM uploads")
        assert {i for i, _ in logged} >= set(answered_ids)

        # the department, not knowing what arrived, sends all 40 again: each content is one submission
        cookie, csrf = session_of(desk, token)
        with ThreadPoolExecutor(8) as pool:
            again = list(pool.map(lambda p: send(desk, token, cookie, csrf, p), returns))
        assert all(again)
        per_file = query(office["db"], "SELECT sha256, COUNT(*) FROM submissions GROUP BY sha256")
        assert sorted(per_file) == sorted((sha(p), 1) for p in returns)
        assert on_disk(uploads) == committed(office["db"]) == {sha(p) for p in returns}
        assert not list((uploads / ".incoming").iterdir())
        current = query(office["db"], "SELECT template_id, COUNT(*) FROM submissions WHERE status='current' "
                                      "GROUP BY template_id")
        assert sorted(current) == [("desk-a-01", 1), ("desk-a-02", 1)]
    finally:
        desk.stop()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_kill_between_commit_and_publication_is_repaired_at_start(office, monkeypatch):
    """The upload stops right after its commit, as under a kill: no rename, no clean-up. The next start
    publishes the committed file; a second, unanswered file left in .incoming and a stray file are deleted."""
    import xlform.desk.intake as intake
    from test_desk import upload
    from xlform.desk import auth
    from xlform.desk.app import DeskConfig, create_app
    root, uploads = office["root"], office["uploads"]
    config = DeskConfig(locate(office["db"], Path("x")), locate(office["registry"], Path("x")), uploads,
                        auth.Password.of(PASSWORD))
    app = create_app(config)
    good = filled(office["forms"]["desk-a-01"][0], root / "good.xlsx", trainings=4)

    class Killed(BaseException):
        pass

    def killed(*args):
        raise Killed
    monkeypatch.setattr(intake.os, "replace", killed)                # the rename never happens
    monkeypatch.setattr(intake.shutil, "rmtree", lambda *a, **k: None)   # nor any clean-up
    with pytest.raises(Killed):
        upload(app.test_client(), office["tokens"]["甲局"], good)
    monkeypatch.undo()
    assert sha(good) in committed(office["db"]) and not (uploads / f"{sha(good)}.xlsx").exists()
    stray = uploads / f"{'0' * 64}.xlsx"                              # published, its commit never came
    stray.write_bytes(b"never answered")
    unanswered = uploads / ".incoming" / uuid.uuid4().hex
    unanswered.mkdir()
    (unanswered / f"{'1' * 64}.xlsx").write_bytes(b"never committed")

    app = create_app(config)                                          # the next start
    assert (uploads / f"{sha(good)}.xlsx").read_bytes() == good.read_bytes()
    assert not stray.exists() and not list((uploads / ".incoming").iterdir())
    assert on_disk(uploads) == committed(office["db"]) == {sha(good)}
    # the department never saw an answer and sends it again: still one submission, current
    r = upload(app.test_client(), office["tokens"]["甲局"], good)
    assert "此文件此前已收到，只保存一次" in r.text
    assert query(office["db"], "SELECT status FROM submissions") == [("current",)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_file_committed_but_not_published_is_kept_for_the_next_start(office, monkeypatch):
    """The rename after the commit fails (a full disk, a permission): the file stays in .incoming, the
    department is told to send again, and the next start publishes it."""
    import xlform.desk.intake as intake
    from test_desk import upload
    from xlform.desk import auth
    from xlform.desk.app import DeskConfig, create_app
    uploads = office["uploads"]
    config = DeskConfig(locate(office["db"], Path("x")), locate(office["registry"], Path("x")), uploads,
                        auth.Password.of(PASSWORD))
    good = filled(office["forms"]["desk-a-01"][0], office["root"] / "good.xlsx", trainings=4)

    def cannot(*args):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(intake.os, "replace", cannot)
    r = upload(create_app(config).test_client(), office["tokens"]["甲局"], good)
    assert r.status_code == 503 and "请稍后重新上传" in r.text
    monkeypatch.undo()
    assert [f.name for f in (uploads / ".incoming").glob("*/*")] == [f"{sha(good)}.xlsx"]
    create_app(config)
    assert on_disk(uploads) == committed(office["db"]) == {sha(good)}
    assert not list((uploads / ".incoming").iterdir())
