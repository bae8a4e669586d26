"""LibreOffice as the department filling a form: a worker run by Debian's /usr/bin/python3 (the only
Python that imports `uno`), answering JSON requests line by line on stdin/stdout.

Requests:
  {"cmd": "fill", "src": PATH, "dst": PATH, "sheet": NAME|null,
   "cells": [{"cell": "F13", "value": 2} | {"cell": "I13", "text": "..."} | {"cell": "F13", "clear": true}
             | {"cell": "H13", "formula": "=1"}],
   "force": false, "unprotect": null|PASSWORD, "read": ["H13", ...]}
      Types like a person at the keyboard: a locked cell on a protected sheet is refused (unless force),
      then recalculates, saves as .xlsx and returns the values of the cells named in "read".
  {"cmd": "pdf", "src": PATH, "dst": PATH}
  {"cmd": "quit"}
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import uno
from com.sun.star.beans import PropertyValue
from com.sun.star.connection import NoConnectException


def prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


class Office:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="xlform-lo-")
        pipe = f"xlform{os.getpid()}"
        self.proc = subprocess.Popen(
            ["soffice", "--headless", "--invisible", "--norestore", "--nologo", "--nodefault", "--nolockcheck",
             f"-env:UserInstallation=file://{self.profile}",
             f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        deadline = time.time() + 120
        while True:
            try:
                ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                break
            except NoConnectException:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("LibreOffice did not start (soffice --headless)")
                time.sleep(0.2)
        self.desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)

    def open(self, path):
        return self.desktop.loadComponentFromURL(uno.systemPathToFileUrl(os.path.abspath(path)), "_blank", 0,
                                                 (prop("Hidden", True),))

    def fill(self, req):
        doc = self.open(req["src"])
        try:
            sheets = doc.Sheets
            sheet = sheets.getByName(req["sheet"]) if req.get("sheet") else sheets.getByIndex(0)
            if req.get("unprotect") is not None:
                sheet.unprotect(req["unprotect"])
            for item in req.get("cells", []):
                cell = sheet.getCellRangeByName(item["cell"])
                if not req.get("force") and sheet.isProtected() and cell.CellProtection.IsLocked:
                    raise PermissionError(f"{item['cell']} is locked on a protected sheet")
                if item.get("clear"):
                    cell.clearContents(1 | 2 | 4 | 16)  # VALUE DATETIME STRING FORMULA
                elif "formula" in item:
                    cell.setFormula(item["formula"])
                elif "text" in item:
                    cell.setString(item["text"])
                else:
                    cell.setValue(float(item["value"]))
            doc.calculateAll()
            values = {ref: self.value(sheet.getCellRangeByName(ref)) for ref in req.get("read", [])}
            doc.storeToURL(uno.systemPathToFileUrl(os.path.abspath(req["dst"])),
                           (prop("FilterName", "Calc MS Excel 2007 XML"),))
            return {"ok": True, "values": values}
        finally:
            doc.close(True)

    @staticmethod
    def value(cell):
        from com.sun.star.table.CellContentType import FORMULA, TEXT, EMPTY
        kind = cell.getType()
        if kind == EMPTY:
            return None
        if kind == TEXT:
            return cell.getString()
        if kind == FORMULA:
            if cell.getError():
                return {"error": cell.getError()}
            if cell.FormulaResultType2 == 2:  # com.sun.star.sheet.FormulaResult.STRING
                return cell.getString() or None
        return cell.getValue()

    def pdf(self, req):
        doc = self.open(req["src"])
        try:
            doc.storeToURL(uno.systemPathToFileUrl(os.path.abspath(req["dst"])),
                           (prop("FilterName", "calc_pdf_Export"),))
            return {"ok": True}
        finally:
            doc.close(True)

    def quit(self):
        try:
            self.desktop.terminate()
        except Exception:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    office = Office()
    out = sys.stdout
    out.write(json.dumps({"ok": True, "ready": True}) + "\n")
    out.flush()
    try:
        for line in sys.stdin:
            req = json.loads(line)
            if req["cmd"] == "quit":
                break
            try:
                reply = getattr(office, req["cmd"])(req)
            except Exception as e:
                reply = {"ok": False, "error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()}
            out.write(json.dumps(reply, ensure_ascii=False) + "\n")
            out.flush()
    finally:
        office.quit()


if __name__ == "__main__":
    main()
