"""`xlform serve` for the tests that need the real server (waitress, sockets, restarts): started as the office
starts it, on 127.0.0.1 and a free port, with its own temporary folder (TMPDIR) so that a test can see
whatever a request leaves on disk; and returns padded to a size as real ones grow (a stamp, a scanned
signature: an image part of incompressible bytes, which `xlform read` accepts with no problem)."""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Desk:
    """`xlform serve` on a free port of 127.0.0.1, as the office starts it; `args` are further options."""

    def __init__(self, root: Path, db: str, registry: str, password: str, *args: str, uploads: Path | None = None):
        self.root, self.db, self.registry, self.password, self.args = root, db, registry, password, args
        self.tmp = root / "tmp"            # the server's temporary folder: spooled bodies would land here
        self.tmp.mkdir(exist_ok=True)
        self.uploads = uploads or root / "uploads"
        self.process = None
        self.start()

    def start(self, port: int = 0):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "XLFORM_ADMIN_PASSWORD": self.password, "TMPDIR": str(self.tmp)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "xlform.cli", "serve", "--db", self.db, "--registry", self.registry,
             "--uploads", str(self.uploads), "--host", "127.0.0.1", "--port", str(port), *self.args],
            cwd=self.root, env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        self.port = None
        while self.port is None and time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            m = re.match(r"xlform desk on http://127\.0\.0\.1:(\d+)/", line)
            self.port = int(m.group(1)) if m else None
        assert self.port, f"the desk did not start: {self.process.poll()}"
        import threading
        threading.Thread(target=self.process.stderr.read, daemon=True).start()   # keep its log flowing

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self):
        port = self.port
        self.stop()
        self.start(port)

    def request(self, method, path, body=b"", headers=None, cookie="", source="127.0.0.1", timeout=60,
                follow=True):
        """(status, headers, text) of one request on a new connection; an upload's 303 (post/redirect/get) is
        followed to its answer page, as a browser does, unless follow is False."""
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout, source_address=(source, 0))
        try:
            con.request(method, path, body, {**({"Cookie": cookie} if cookie else {}), **(headers or {})})
            r = con.getresponse()
            status, answer, text = r.status, r.headers, r.read().decode("utf-8")
        finally:
            con.close()
        if status == 303 and follow:
            return self.request("GET", answer["Location"], cookie=cookie, source=source, timeout=timeout)
        return status, answer, text

    def left_on_disk(self) -> list[Path]:
        """Whatever requests left in the temporary folder and the uploads' work folder."""
        return [p for p in (*self.tmp.rglob("*"), *(self.uploads / ".incoming").rglob("*")) if p.is_file()]


def cookie_of(headers) -> str:
    return headers["Set-Cookie"].split(";", 1)[0]


def multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A form as a browser sends it: (body, content type)."""
    boundary = "----xlform" + hashlib.sha256(b"".join(d[:4096] for _, d in files) or b"-").hexdigest()[:24]
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
             for k, v in fields.items()]
    for name, data in files:
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
                     "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n"
                     .encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def padded(src: Path, dst: Path, size: int) -> Path:
    """The return `src` grown to `size` bytes by an image part of random bytes (declared as PNG), as a
    return with a stamp or a scanned signature pasted in grows; the form's cells are untouched."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"<Default ", b'<Default Extension="png" ContentType="image/png"/><Default ', 1)
            zout.writestr(item, data)
        room = size - src.stat().st_size - 300      # the part's own header and directory entry
        zout.writestr(zipfile.ZipInfo("xl/media/image1.png"), b"\x89PNG\r\n\x1a\n" + os.urandom(room - 8),
                      zipfile.ZIP_STORED)
    assert abs(dst.stat().st_size - size) < 1024, dst.stat().st_size
    return dst
