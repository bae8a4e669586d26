"""The desk on the LAN: its configuration from the command line, and waitress serving it.

waitress is a production WSGI server in pure Python (threads, no C extension, no fork): it runs the same on
the office's Linux or Windows machine, and nothing is fetched at run time."""
from __future__ import annotations

import os
import socket
from pathlib import Path

from ..db import SQLITE, Location
from ..errors import CannotRun
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


def serve(config: DeskConfig, host: str, port: int, threads: int, echo) -> None:
    """Serve until interrupted; `echo` prints the lines that say where and how."""
    import waitress
    app = create_app(config)
    try:
        server = waitress.create_server(app, host=host, port=port, threads=threads,
                                        max_request_body_size=app.config["MAX_CONTENT_LENGTH"],
                                        ident="xlform", clear_untrusted_proxy_headers=True)
    except OSError as e:
        raise CannotRun(f"cannot listen on {host}:{port}: {(e.strerror or str(e)).lower()}; choose another port "
                        "with --port or another address with --host") from None
    url = f"http://{shown_host(host)}:{server.effective_port}"
    config.public_url = config.public_url or url      # what the dashboard's links carry (never a Host header)
    echo(f"xlform desk on {url}/ (database {config.db}, registry {config.registry}, uploads {config.uploads})")
    echo(f"office dashboard: {url}/admin")
    echo("department links: `xlform links list`, `xlform links issue DEPARTMENT` (prints the new link once), "
         "`xlform links revoke DEPARTMENT`; or on the dashboard. Stop with Ctrl+C.")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


__all__ = ["DeskConfig", "MB", "admin_password", "serve", "uploads_folder"]
