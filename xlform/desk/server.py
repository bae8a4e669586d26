"""The desk on the LAN: its configuration from the command line, and waitress serving it.

waitress is a production WSGI server in pure Python (threads, no C extension, no fork): it runs the same on
the office's Linux or Windows machine, and nothing is fetched at run time. It reads every request, headers
and body, in one event loop and hands it to a thread only when complete, so slow or idle sockets hold no
thread (cheroot, which would stream bodies to the application, hands a readable connection to a pool thread
that reads the request line and headers itself: 200 slow sockets would hold 200 threads). Because waitress
spools a body before the application runs, the body's limit is decided here, from the request line
(`_guarded`, asking the application's `body_limit`): the upload route of a known link may send up to its limit, every
other request a few KB, and an unknown link nothing; a refused body is never read: the application answers
from the headers and the connection closes."""
from __future__ import annotations

import os
import select
import signal
import socket
import sys
from dataclasses import replace
from pathlib import Path

from ..errors import CannotRun
from ..storage.db import SQLITE, Location
from . import auth
from .app import DeskConfig, create_app
from .intake import MB

MIN_PASSWORD = 8


def admin_password(password_file: str | None) -> auth.Password:
    """The office password from --admin-password-file (its first line) or XLFORM_ADMIN_PASSWORD, hashed."""
    if password_file:
        try:
            clear = Path(password_file).read_text(encoding="utf-8-sig").splitlines()[0:1]
        except OSError as e:
            raise CannotRun(f"cannot read {password_file}: {e.strerror or e}; name a readable file with "
                            "--admin-password-file") from None
        clear = clear[0].strip() if clear else ""
        where = password_file
    else:
        clear = os.environ.get("XLFORM_ADMIN_PASSWORD", "")
        where = "XLFORM_ADMIN_PASSWORD"
    if not clear:
        raise CannotRun("no password for the office dashboard: put one in a file named with --admin-password-file, "
                        "or in the environment variable XLFORM_ADMIN_PASSWORD")
    if len(clear) < MIN_PASSWORD:
        raise CannotRun(f"the office password from {where} is shorter than {MIN_PASSWORD} characters; choose a "
                        "longer one")
    return auth.Password.of(clear)


def uploads_folder(db: Location, uploads: str | None) -> Path:
    """Uploads go beside a SQLite database (output/uploads for output/collect.db), else under output/."""
    if uploads:
        return Path(uploads)
    return Path(db.target).parent / "uploads" if db.engine == SQLITE else Path("output") / "uploads"


def shown_host(host: str) -> str:
    return socket.gethostname() if host in ("0.0.0.0", "::", "") else host


CONNECTIONS = 1000      # open connections at most (Windows: 500, what its select() watches)
PER_ADDRESS = 100       # from one client address: one machine cannot take every connection
IDLE_SECONDS = 60       # a connection that sends nothing for this long is closed
REFUSED = "X_XLFORM_REFUSED"   # the header (as waitress names it) telling the application why a body went unread
LENGTH = "X_XLFORM_LENGTH"     # and the length the body claimed


def _guarded(body_limit):
    """waitress's channel and request parser, with the body's limit decided from the request line: waitress
    has no public hook between a request's headers and its body (create_server takes no channel class)."""
    from waitress.channel import HTTPChannel
    from waitress.parser import HTTPRequestParser

    class GuardedParser(HTTPRequestParser):
        def parse_header(self, header_plus):
            super().parse_header(header_plus)
            self.headers.pop(REFUSED, None)          # never what a client sent itself
            self.headers.pop(LENGTH, None)
            limit = body_limit(self.command, self.path, self.headers.get("COOKIE", ""))
            refused = 404 if limit is None else 411 if self.chunked else 413 if self.content_length > limit else 0
            if refused:      # no body: the request is complete with its headers, and the connection closes
                self.headers[REFUSED] = str(refused)
                self.headers[LENGTH] = str(self.content_length)   # for the office's log
                self.headers["CONTENT_LENGTH"] = "0"
                self.headers.pop("TRANSFER_ENCODING", None)
                self.content_length, self.body_rcv, self.chunked = 0, None, False
                self.expect_continue = False
                self.headers["CONNECTION"] = "close"   # waitress closes after the answer: the body is never read

    class GuardedChannel(HTTPChannel):
        parser_class = GuardedParser

        def __init__(self, server, sock, addr, adj, map=None):
            super().__init__(server, sock, addr, adj, map=map)
            same = sum(1 for c in (map or {}).values() if isinstance(c, HTTPChannel) and c.addr and c.addr[0] == addr[0])
            if same > PER_ADDRESS:
                self.handle_close()

    return GuardedChannel


def connection_limit() -> int:
    """CONNECTIONS, within what the system lets the process open (each may spool a body to a file)."""
    if not hasattr(select, "poll"):
        return CONNECTIONS // 2
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * CONNECTIONS
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))
        except (ValueError, OSError):
            pass
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return CONNECTIONS if soft == resource.RLIM_INFINITY else max(10, min(CONNECTIONS, soft // 4))


def serve(config: DeskConfig, host: str, port: int, threads: int, echo) -> None:
    """Serve until interrupted; `echo` prints the lines that say where and how."""
    import waitress
    cores = os.cpu_count() or 1
    app = create_app(replace(config, readers=cores if cores > 1 else 0))
    try:
        server = waitress.create_server(app, host=host, port=port, threads=threads,
                                        max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + 1,
                                        connection_limit=connection_limit(), channel_timeout=IDLE_SECONDS,
                                        asyncore_use_poll=hasattr(select, "poll"),
                                        ident="xlform", clear_untrusted_proxy_headers=True)
        server.channel_class = _guarded(app.body_limit)
    except OSError as e:
        raise CannotRun(f"cannot listen on {host}:{port}: {(e.strerror or str(e)).lower()}; choose another port "
                        "with --port or another address with --host") from None
    # before the lines that say it is up: a service manager (or a test) may stop it as soon as it reads them
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))   # stopped by a service manager: end as on Ctrl+C
    url = f"http://{shown_host(host)}:{server.effective_port}"
    config.public_url = config.public_url or url      # what the dashboard's links carry (never a Host header)
    echo(f"xlform desk on {url}/ (database {config.db}, registry {config.registry}, uploads {config.uploads})")
    echo(f"office dashboard: {url}/admin")
    echo("department links: `xlform links list`, `xlform links issue DEPARTMENT` (prints the new link once), "
         "`xlform links revoke DEPARTMENT`; or on the dashboard. Stop with Ctrl+C.")
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()
        if app.readers:
            app.readers.close()


__all__ = ["DeskConfig", "MB", "admin_password", "serve", "uploads_folder"]
