"""LAYOUT_VERSION is bumped whenever the code of the sections places or draws a form otherwise (issue 18).

Returns already out are read against the map each version kept at issue time, but a version's workbook
can be written again later (`xlform render` of an unchanged definition, the desk re-making a deleted blank
form): it must come out as it was issued. The template hash covers the kind's form.yaml and LAYOUT_VERSION,
not the code; so this test pins, per example and kind, what a version's issued map is (every field, span
and locked cell). When it fails, the drawing changed: bump LAYOUT_VERSION in xlform/kinds/forms.py (the
next render issues new versions), then pin again:

    python tests/test_layout_version.py --pin
"""
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PINS = ROOT / "tests" / "data" / "layout-pins.json"


def issued_maps() -> dict:
    sys.path.insert(0, str(ROOT))
    from xlform.definition.definition import load
    from xlform.issue.registry import issued_map
    from xlform.kinds.forms import LAYOUT_VERSION, form_kind
    found = {}
    for path in sorted((ROOT / "examples").glob("[!_]*.yaml")):
        project = load(path)
        kind = form_kind(project.form)
        kept = issued_map(project, kind, 1)
        text = f'{{"layout":{kept.layout},"expected":{kept.expected}}}'   # (the whole map, as pinned before the layouts table)
        found[f"{path.name}:{kind.name}"] = {"fingerprint": kind.fingerprint,
                                             "map": hashlib.sha256(text.encode()).hexdigest()}
    return {"layout_version": LAYOUT_VERSION, "forms": found}


def test_a_change_of_drawing_code_bumps_layout_version():
    pinned, now = json.loads(PINS.read_text(encoding="utf-8")), issued_maps()
    assert now["layout_version"] >= pinned["layout_version"]
    if now["layout_version"] > pinned["layout_version"]:
        raise AssertionError("LAYOUT_VERSION was bumped: pin the new maps (python tests/test_layout_version.py --pin)")
    assert set(now["forms"]) == set(pinned["forms"]), "examples added or removed: pin again"
    for name, form in now["forms"].items():
        was = pinned["forms"][name]
        if form["fingerprint"] != was["fingerprint"]:
            raise AssertionError(f"{name}: the kind's form.yaml changed (new versions follow by themselves): "
                                 "pin again")
        assert form["map"] == was["map"], (
            f"{name}: the same definition and form.yaml now give another workbook: the sections' code places "
            "or draws it otherwise. Bump LAYOUT_VERSION in xlform/kinds/forms.py, then pin again")


if __name__ == "__main__" and sys.argv[1:] == ["--pin"]:
    PINS.write_text(json.dumps(issued_maps(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"pinned {PINS}")
