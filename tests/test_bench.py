"""A smoke run of the benchmark (figures are not asserted: timing belongs to `python -m xlform.bench`)."""
import subprocess
import sys


def test_benchmark_quick_run_prints_every_measure(tmp_path):
    r = subprocess.run([sys.executable, "-m", "xlform.bench", "--quick", "--keep", str(tmp_path / "work")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    for measure in ("render 10 indicators", "render 120 indicators", "read 40 indicators", "collect 40 files",
                    "collect --jobs 2 vs --jobs 1", "render --jobs 2 vs --jobs 1", "cold start `xlform --help`",
                    "desk: 20 concurrent uploads (40 indicators)"):
        assert measure in r.stdout, measure
    assert "20 of 20 stored" in r.stdout     # the desk's load test loses nothing
    assert "raw xlsxwriter" in r.stdout and "openpyxl full load" in r.stdout


def test_render_baseline_replays_the_same_workbook(tmp_path):
    """The render baseline writes what xlform writes, less the workbook structure lock."""
    import openpyxl
    from xlform.bench import record_calls, replay
    from xlform.definition.definition import load
    from xlform.kinds.forms import form_kind
    from xlform.xlsx.writer import SheetSpec, write
    p = load("examples/zxyw-2019.yaml")
    rec = record_calls(p, form_kind("project"), 1, "自评表")
    replay(rec, str(tmp_path / "raw.xlsx"))
    write(str(tmp_path / "ours.xlsx"), [SheetSpec(p, form_kind("project"), 1, "自评表")], None, "")
    raw, ours = (openpyxl.load_workbook(tmp_path / f)["自评表"] for f in ("raw.xlsx", "ours.xlsx"))
    cells = lambda ws: {c.coordinate: c.value for row in ws.iter_rows() for c in row}  # noqa: E731
    assert cells(raw) == cells(ours)
    assert len(raw.data_validations.dataValidation) == len(ours.data_validations.dataValidation) > 10
    assert {str(r) for r in raw.merged_cells.ranges} == {str(r) for r in ours.merged_cells.ranges}
