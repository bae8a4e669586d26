"""What reading returns leaves behind for the cyclic GC (issue 22, memory): a collection's workers run that GC
seldom (collecting.processes.few_collections), so whatever a read leaves in a reference cycle waits there. A
handler and its expat parser held each other (with the parser's 64 KB buffer and expat's own tables), once per
part parsed: at 500 returns of a province a worker held 212 dead parsers, ~40 MB of its 112 MB."""
import json
import subprocess
import sys

from helpers import GOOD, fill_openpyxl, small_form

# Reads as a new worker does (nothing cached: every part parsed, the sheet outlined), the cyclic GC paused, as
# between a worker's rare collections: the expat parsers alive after each read, found through the GC (they are
# tracked, so a dead one in a cycle is found too).
READ = """
import gc, json, sys
from pathlib import Path
from xlform.issue.registry import Registry
from xlform.returns.reader import read_return

def parsers():
    return sum(type(o).__name__ == "xmlparser" for o in gc.get_objects())

registry = Registry(sys.argv[2], create=False)
gc.collect()
gc.disable()
before, after = parsers(), []
for _ in range(3):
    [record] = read_return(Path(sys.argv[1]), registry)
    after.append(parsers())
print(json.dumps({"before": before, "after": after, "template": record.template.get("id"),
                  "errors": [p.code for p in record.errors]}))
"""


def test_reading_returns_leaves_no_parser_behind(tmp_path):
    project, issued, registry = small_form(tmp_path)
    registry.close()
    filled = fill_openpyxl(issued, tmp_path / "filled.xlsx", GOOD)
    done = subprocess.run([sys.executable, "-c", READ, str(filled), str(tmp_path / "r.db")], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["template"] == project.id and found["errors"] == []   # really read, and read well
    assert found["after"] == [found["before"]] * 3
