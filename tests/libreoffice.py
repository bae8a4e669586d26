"""Client for tests/uno_worker.py: LibreOffice (headless) fills, recalculates and saves workbooks."""
from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
from pathlib import Path

UNO_PYTHON = os.environ.get("XLFORM_UNO_PYTHON", "/usr/bin/python3")
WORKER = Path(__file__).with_name("uno_worker.py")


class LibreOfficeUnavailable(RuntimeError):
    pass


class LibreOffice:
    def __init__(self, timeout: float = 180):
        if not shutil.which("soffice"):
            raise LibreOfficeUnavailable("soffice not found: apt-get install libreoffice-calc-nogui python3-uno")
        self.timeout = timeout
        # the fonts xlform print uses (宋体 in a CJK serif): what a department types is laid out as it prints
        from xlform.printing.printer import FONTS
        self.fonts = tempfile.NamedTemporaryFile("w", suffix=".conf", prefix="xlform-fonts-", encoding="utf-8")
        self.fonts.write(FONTS)
        self.fonts.flush()
        self.proc = subprocess.Popen([UNO_PYTHON, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                     env={**os.environ, "FONTCONFIG_FILE": self.fonts.name})
        hello = self._reply()
        if not hello.get("ready"):
            raise LibreOfficeUnavailable(f"the UNO worker did not start: {hello}")

    def _reply(self) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            err = "" if self.proc.poll() is None else self.proc.stderr.read()
            raise LibreOfficeUnavailable(f"no answer from the UNO worker ({UNO_PYTHON}): {err[-2000:]}")
        return json.loads(line)

    def request(self, **req) -> dict:
        self.proc.stdin.write(json.dumps(req, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()
        reply = self._reply()
        if not reply.get("ok"):
            raise RuntimeError(reply.get("error", reply))
        return reply

    def fill(self, src, dst, cells: dict, read=(), sheet=None, force=False, unprotect=None) -> dict:
        """Type values into cells ({"F13": 2, "I13": "text", "F7": None}), recalc, save; values of `read`."""
        items = []
        for ref, v in cells.items():
            if v is None:
                items.append({"cell": ref, "clear": True})
            elif isinstance(v, str) and v.startswith("="):
                # UNO's setFormula reads ';' as the argument separator (our formulas quote no commas)
                items.append({"cell": ref, "formula": v.replace(",", ";")})
            elif isinstance(v, str):
                items.append({"cell": ref, "text": v})
            else:
                items.append({"cell": ref, "value": v})
        return self.request(cmd="fill", src=str(src), dst=str(dst), sheet=sheet, cells=items, read=list(read),
                            force=force, unprotect=unprotect)["values"]

    def pdf(self, src, dst):
        self.request(cmd="pdf", src=str(src), dst=str(dst))

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.fonts.close()
