"""A private PostgreSQL cluster for the tests: initdb into a temporary folder, a free port on 127.0.0.1,
stopped and removed at the end. As root (CI), the server runs as the `postgres` user: initdb refuses root."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

# a role that must give its password (pg_hba below); every other local connection is trusted
PASSWORD_USER, PASSWORD = "xlform_pw", "s3cret-pw"


class PostgresUnavailable(RuntimeError):
    pass


def binaries() -> Path | None:
    """The folder of initdb and pg_ctl: on the PATH, else Debian's /usr/lib/postgresql/N/bin (newest N)."""
    if shutil.which("pg_ctl") and shutil.which("initdb"):
        return Path(shutil.which("pg_ctl")).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self):
        self.bin = binaries()
        if self.bin is None:
            raise PostgresUnavailable("PostgreSQL not found (initdb, pg_ctl): apt-get install postgresql")
        # not under pytest's basetemp: its folders are private to root, and the server may run as postgres
        self.root = Path(tempfile.mkdtemp(prefix="xlform-pg-"))
        self.data, self.port = self.root / "data", _free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.root, "postgres", "postgres")
        try:
            self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8")
            (self.data / "pg_hba.conf").write_text(
                f"local all all trust\nhost all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n"
                "host all all 127.0.0.1/32 trust\n", encoding="utf-8")
            # fsync off: a test cluster needs no durability, and CREATE DATABASE per test stays fast
            options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
            self._run("pg_ctl", "-D", self.data, "-l", self.root / "server.log", "-o", options, "-w", "-t", "60",
                      "start")
        except BaseException:
            self.close()
            raise
        self.admin = self.url("postgres")
        self.sql(f"CREATE ROLE {PASSWORD_USER} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")

    def _run(self, tool, *args):
        r = subprocess.run([*self.as_user, str(self.bin / tool), *map(str, args)], capture_output=True, text=True)
        if r.returncode:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise PostgresUnavailable(f"{tool} failed ({r.returncode}): {r.stderr.strip()[-1500:]} {tail}")

    def url(self, database: str, user: str = "postgres", password: str | None = None) -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres"):
        import psycopg
        with psycopg.connect(self.url(database), autocommit=True) as con:
            cur = con.execute(statement)
            return cur.fetchall() if cur.description else None

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.sql(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str):
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def close(self):
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                            "-w", "stop"], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
