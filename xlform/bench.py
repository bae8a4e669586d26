"""Benchmark: `python -m xlform.bench` builds its own data and prints ratios against baselines run in the
same process (so they hold on a noisy machine), with the issue's floors beside them.

- render: xlform's render of one definition (checks, layout, metadata, registry, atomic write) against raw
  xlsxwriter replaying the very same calls (cells, formats, merges, formulas, validations) into a file;
- read: xlform's read of a filled form (every check, scores recomputed) against openpyxl's full
  load_workbook walking every cell, and python-calamine dumping the values (at most 5x its time for 40
  indicators), in CPU time; returns of one template each against returns of one template (at most 1.2x);
- floors in seconds are scaled by calibration(), a fixed CPU-bound loop timed first on the same machine;
- collect: time and peak memory (the whole process tree) on 1,000 and 10,000 files; --jobs 2 against 1;
- render --jobs 2 against --jobs 1; the cold start of `xlform --help` and `xlform read FILE`;
- the desk: 20 and 50 concurrent uploads of 40-indicator returns to `xlform serve` on 127.0.0.1, the p95 time
  from upload to checked answer, and every upload stored; on SQLite, and on PostgreSQL with --postgres URL.
"""
from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import xlsxwriter


CALIBRATION_REFERENCE = 0.048   # seconds calibration() took where the absolute floors were set (quiet, 2 cores)


def calibration(runs: int = 5) -> float:
    """Seconds (wall clock, median of `runs`) a fixed CPU-bound loop takes on this machine now: a floor in
    seconds is scaled by calibration() / CALIBRATION_REFERENCE (never below 1), so that a slower or busier
    machine does not miss it by itself. The loop does what xlform does most: small dicts, strings, floats."""
    def loop():
        d, total = {}, 0.0
        for i in range(250_000):
            key = f"A{i % 977}"
            d[key] = d.get(key, 0.0) + i * 0.5
            total += len(key)
        return total
    times = timed(loop, runs)
    return statistics.median(times)


def definition_text(n: int, tid: str) -> str:
    """A realistic definition with n indicators of every kind, weights adding up to 100."""
    kinds = ["≥{v}次", "≥{p}%", "≤{v}天", "{v}万元", "不断提高", ">{p}%", "文件批复当日下达"]
    level2 = {"产出指标": ["数量指标", "质量指标", "时效指标", "成本指标"], "效益指标": ["经济效益指标", "社会效益指标",
              "可持续影响指标"], "满意度指标": ["满意度指标"]}
    groups = [(l1, l2) for l1, l2s in level2.items() for l2 in l2s]
    weights = [round(90 / n, 2)] * n  # a 120-indicator form has 0.75-point indicators
    tree: dict = {}
    for i in range(n):
        l1, l2 = groups[i * len(groups) // n]
        target = kinds[i % len(kinds)].format(v=3 + i % 17, p=60 + i % 35)
        tree.setdefault(l1, {}).setdefault(l2, []).append(
            f"      - {{name: 第{i + 1}项绩效指标：完成年度工作任务的情况说明{i % 7}, target: '{target}', weight: {weights[i]}}}")
    body = "\n".join(f"  {l1}:\n" + "\n".join(f"    {l2}:\n" + "\n".join(items) for l2, items in l2s.items())
                     for l1, l2s in tree.items())
    return (f"year: 2019\nid: {tid}\nproject: 基准测试项目{tid}\ndepartment: 基准测试局{int(tid.split('-')[-1]) % 10}\n"
            f"implementer: 基准测试单位\nfunds:\n  weight: 10\n  fiscal: {{initial: 100, annual: 100}}\n"
            f"  carryover: {{initial: 20.5, annual: 20.5}}\ngoal: 完成年度总体目标，提高资金使用效益。\nindicators:\n{body}\n"
            f"allow_total: {round(10 + sum(weights), 2)}\n")


def filled_inputs(project, seed: int) -> dict:
    """What a department types: executions, a goal, actuals near the targets, a reason where one is due."""
    from .kinds.forms import form_kind
    from .form.layout import layout
    from .scoring.scoring import TIERS
    lay = layout(project, form_kind(project.form))
    inputs = {"funds.fiscal.executed": 95 - seed % 7, "funds.carryover.executed": 20.5,
              "goal.actual": "按计划完成年度总体目标。"}
    for i, ind in enumerate(project.indicators):
        t, kind = ind.target, lay.fields[f"indicators.{i}.actual"].type
        if kind == "tier":
            name, low, high = TIERS[(i + seed) % 2]
            inputs[f"indicators.{i}.actual"] = name
            inputs[f"indicators.{i}.score"] = round(ind.weight * (low + high) / 2, 2)
        elif t.qualitative:
            inputs[f"indicators.{i}.actual"] = [1, 0.95, 0.9][(i + seed) % 3]
        else:
            inputs[f"indicators.{i}.actual"] = round(t.value * [1, 0.9, 1.2, 1.4][(i + seed) % 4], 4)
        if (i + seed) % 4 == 1:
            inputs[f"indicators.{i}.reason"] = "受客观因素影响，部分指标未完全达到。"
    return inputs


def _templates_probe(folder: str, registry: str, order: str):
    """(In a fresh process) CPU seconds per file of reading distinct/*.xlsx (each of its own template),
    repeated/*.xlsx (all of one template, met once before) and shapes/*.xlsx (each of its own template and
    layout), printed; a warm-up read first (imports, caches). All are read as `xlform collect` reads them, with
    its GC thresholds (processes.few_collections)."""
    from .collecting.processes import few_collections
    from .issue.registry import Registry
    from .returns.reader import read_file
    base = Path(folder)
    reg = Registry(registry)
    out = {}
    with few_collections():
        read_file(next(base.glob("*.xlsx")), reg)
        repeated = sorted((base / "repeated").glob("*.xlsx"))
        read_file(repeated[0], reg)   # the one template, met before
        sets = {"distinct": sorted((base / "distinct").glob("*.xlsx")), "repeated": repeated[1:],
                "shapes": sorted((base / "shapes").glob("*.xlsx"))}
        names = ["distinct", "shapes", "repeated"]
        for name in (names if order == "distinct-first" else names[::-1]):
            files = sets[name]
            start = time.process_time()
            for f in files:
                read_file(f, reg)
            out[name] = (time.process_time() - start) / len(files)
    reg.close()
    print(out["distinct"], out["repeated"], out["shapes"])


def _cpu_seconds(pid: int) -> float | None:
    """The CPU time (user + system) a process and its children (the desk's readers) have used so far, where
    /proc tells it (Linux): the desk's figure that does not depend on what else the machine runs."""
    def stat(path: Path) -> list[str]:
        return path.read_text().rsplit(")", 1)[1].split()
    try:
        stat(Path(f"/proc/{pid}/stat"))
    except OSError:
        return None
    total = 0.0
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat(path)
        except OSError:
            continue
        if path.parent.name == str(pid) or fields[1] == str(pid):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def timed(fn, repeat: int, clock=time.perf_counter) -> list[float]:
    out = []
    for _ in range(repeat):
        t = clock()
        fn()
        out.append(clock() - t)
    return out


class _Recorder:
    """Records every call the writer makes on xlsxwriter, so a baseline can replay exactly the same work."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.formats: dict[int, int] = {}
        self.options: dict = {}


def record_calls(project, kind, version, sheet):
    """The writer's xlsxwriter calls for one form, as a replayable list."""
    from .xlsx import writer
    rec = _Recorder()
    base = writer._Workbook

    class Spy(base):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            rec.options = {"default_format_properties": dict(a[1]["default_format_properties"])}
            self._recording = True  # the formats xlsxwriter makes for itself are made by the replay too

        def add_format(self, props=None):
            f = super().add_format(props)
            if not getattr(self, "_recording", False):
                return f
            rec.formats[id(f)] = len(rec.formats)
            rec.calls.append(("wb", "add_format", (dict(props or {}),), {}))
            return f

        def add_worksheet(self, name=None, worksheet_class=None):
            ws = super().add_worksheet(name, worksheet_class)
            index = sum(1 for c in rec.calls if c[1] == "add_worksheet")
            rec.calls.append(("wb", "add_worksheet", (name,), {}))
            return _WorksheetSpy(ws, index, rec)

        def __getattribute__(self, name):
            attr = super().__getattribute__(name)
            if name in ("set_properties", "set_custom_property", "define_name"):
                def call(*a, **k):
                    rec.calls.append(("wb", name, a, k))
                    return attr(*a, **k)
                return call
            return attr

    writer._Workbook = Spy
    try:
        writer.write(io.BytesIO(), [writer.SheetSpec(project, kind, version, sheet)], None, "")
    finally:
        writer._Workbook = base
    return rec


class _WorksheetSpy:
    def __init__(self, ws, index, rec):
        self._ws, self._index, self._rec = ws, index, rec

    def __getattr__(self, name):
        attr = getattr(self._ws, name)
        if not callable(attr):
            return attr

        def call(*a, **k):
            self._rec.calls.append((self._index, name, _encode(a, self._rec.formats), k))
            return attr(*a, **k)
        return call


def _encode(value, formats):
    """Formats (objects of the recorded workbook) as ("fmt", n), inside tuples and option dicts too."""
    if isinstance(value, xlsxwriter.format.Format):
        return ("fmt", formats[id(value)])
    if isinstance(value, tuple):
        return tuple(_encode(v, formats) for v in value)
    if isinstance(value, dict):
        return {k: _encode(v, formats) for k, v in value.items()}
    return value


def _decode(value, formats):
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "fmt":
        return formats[value[1]]
    if isinstance(value, tuple):
        return tuple(_decode(v, formats) for v in value)
    if isinstance(value, dict):
        return {k: _decode(v, formats) for k, v in value.items()}
    return value


def replay(rec: _Recorder, path):
    """Raw xlsxwriter doing the same work: the render baseline."""
    wb = xlsxwriter.Workbook(path, {"strings_to_numbers": False, "strings_to_formulas": False,
                                    "strings_to_urls": False, "in_memory": True, **rec.options})
    formats, sheets = [], []
    for target, name, args, kwargs in rec.calls:
        if target == "wb":
            if name == "add_format":
                formats.append(wb.add_format(*args))
            elif name == "add_worksheet":
                sheets.append(wb.add_worksheet(*args))
            else:
                getattr(wb, name)(*args, **kwargs)
        elif hasattr(sheets[target], name):  # xlform's own additions (rows that grow) are not xlsxwriter's work
            getattr(sheets[target], name)(*_decode(args, formats), **kwargs)
    wb.close()


def tree_memory(pid: int) -> int:
    """Memory (bytes) of a process and all its descendants, from /proc (children lists): each one's proportional
    set size (PSS: a page shared by forked processes counted once in all, where the sum of their RSS counted it
    in each: a forked process that has touched nothing yet added its parent's whole RSS); RSS where the kernel
    gives no PSS."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += _pss(p)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            pass
    return total


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("Pss:"))
    except (OSError, StopIteration):
        with open(f"/proc/{pid}/status") as f:
            return next((int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:")), 0)


def run_measured(cmd: list[str], cwd=None, memory: bool = True) -> tuple[float, int, str]:
    """(seconds, peak memory of the process tree (see tree_memory), stderr) of a command, sampling memory every
    250 ms (memory=False: time only, nothing else using the cores). Reading a process's smaps_rollup walks its
    page tables and holds its memory map meanwhile (1.1 ms for a process of 180 MB): sampled every 20 ms, the
    10,000-return collect took 45.9 s instead of 42.5 s unobserved; every 100 ms, 43.8 s. Its phases last
    seconds and its memory is flat: a quarter of a second misses no peak that lasts."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while memory and not done.is_set():
            peak = max(peak, tree_memory(proc.pid))
            time.sleep(0.25)
    th = threading.Thread(target=sample)
    th.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - t
    done.set()
    th.join()
    return seconds, peak, err


PROVINCE_DEPARTMENTS = 100



def province_definition(i: int) -> str:
    """The i-th project of a province: one of 100 主管部门, 10 to 120 indicators, every fifth on the Sichuan form
    (its 项目编码 and four fund rows with 调整后预算数), each a template of its own. The counts take every value
    from 10 to 120 (65 on average): 41 is prime to the 111 values (a stride of 37 gave only 10, 47 and 84)."""
    import yaml
    d = yaml.safe_load(definition_text(10 + (i * 41) % 111, f"prov-{i:05d}"))
    d.update(project=f"基准省项目{i:05d}", department=f"基准省第{i % PROVINCE_DEPARTMENTS:02d}厅")
    if i % 5 == 4:
        d = {"form": "sichuan", "code": f"51{i:010d}", **d}
        d["funds"] = {"weight": 10, "fiscal": {"initial": 100, "adjusted": 100}, "special": {"initial": 20.5,
                      "adjusted": 20.5}, "unit": {"initial": 0, "adjusted": 0}, "other": {"initial": 0, "adjusted": 5}}
    return yaml.safe_dump(d, allow_unicode=True, sort_keys=False)


def _province_name(i: int) -> str:
    return f"第{i % PROVINCE_DEPARTMENTS:02d}厅/prov-{i:05d}.xlsx"


def _province_returns(job):
    """Render and fill returns (a worker of Bench.province): each its own template, issued in the registry."""
    from .definition.definition import load
    from .issue.registry import Registry
    from .kinds.forms import form_kind
    from .xlsx.writer import SheetSpec, write
    work, registry_path, indices = job
    registry = Registry(Path(registry_path))
    try:
        for i in indices:
            source = Path(work) / "province-defs" / f"prov-{i:05d}.yaml"
            source.parent.mkdir(exist_ok=True)
            source.write_text(province_definition(i), encoding="utf-8")
            project = load(source)
            kind = form_kind(project.form)
            inputs = filled_inputs(project, i)
            inputs.pop("funds.carryover.executed", None)
            for row in kind.fund_rows:
                inputs[f"funds.{row}.executed"] = project.funds.rows[row].annual * 0.95
            path = Path(work) / "province-files" / _province_name(i)
            path.parent.mkdir(parents=True, exist_ok=True)
            write(str(path), [SheetSpec(project, kind, registry.version_for(project, kind, "bench"), "自评表", inputs)],
                  None, "")
    finally:
        registry.close()


class Bench:
    def __init__(self, work: Path, repeat: int, quick: bool):
        from .definition.definition import load
        from .kinds.forms import form_kind
        from .issue.registry import Registry
        self.work, self.repeat, self.quick = work, repeat, quick
        self.kind = form_kind("project")
        self.registry_path = work / "registry.db"
        self.registry = Registry(self.registry_path)
        self.defs: dict[int, object] = {}
        for n in (10, 40, 120):
            path = work / "defs" / f"b-{n}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(definition_text(n, f"bench-{n:03d}"), encoding="utf-8")
            self.defs[n] = load(path)
        self.rows: list[tuple] = []
        self.scale = 1.0

    def calibrate(self, when: str = ""):
        """The machine's speed now (see calibration): absolute floors in seconds are multiplied by self.scale.
        Taken again right before the collects (a shared machine's speed drifts over a bench of minutes)."""
        seconds = calibration()
        self.scale = max(1.0, seconds / CALIBRATION_REFERENCE)
        self.add(f"calibration (a fixed CPU-bound loop){when}", f"{seconds * 1000:.0f} ms (reference "
                 f"{CALIBRATION_REFERENCE * 1000:.0f} ms)", "", True, f"floors in seconds x{self.scale:.2f}")

    def add(self, what, figure, floor, ok, note=""):
        self.rows.append((what, figure, floor, "ok" if ok else "MISSED", note))

    def filled_form(self, project, seed: int, folder: Path) -> Path:
        """A form as a department returns it: inputs typed, cached values computed (as Excel saves)."""
        from .xlsx.writer import SheetSpec, write
        version = self.registry.version_for(project, self.kind, "bench")
        path = folder / f"{project.id}-{seed}.xlsx"
        write(str(path), [SheetSpec(project, self.kind, version, "自评表", filled_inputs(project, seed))], None, "")
        return path

    def render(self):
        from .issue.renderer import render
        out = self.work / "render"
        for n, p in self.defs.items():
            rec = record_calls(p, self.kind, 1, "自评表")
            k = max(3, 60 // n * 2)
            base = [statistics.median(timed(lambda: replay(rec, str(out / "raw.xlsx")), k))
                    for _ in range(self.repeat)] if out.mkdir(exist_ok=True) is None else []
            ours = [statistics.median(timed(lambda: render([p], out, registry=self.registry), k))
                    for _ in range(self.repeat)]
            ratios = sorted(o / b for o, b in zip(ours, base))
            med = statistics.median(ratios)
            self.add(f"render {n} indicators", f"{med:.2f}x raw xlsxwriter (min {ratios[0]:.2f}, max {ratios[-1]:.2f}; "
                     f"{statistics.median(ours) * 1000:.1f} ms)", "<= 1.3x", med <= 1.3)

    def read(self):
        """xlform's read (every check) against openpyxl's full load and python-calamine's value dump, in CPU
        time of this process (ratios of work done here, whatever else the machine runs)."""
        import openpyxl
        from .returns.reader import read_file
        try:
            from python_calamine import CalamineWorkbook
        except ImportError:
            CalamineWorkbook = None
        folder = self.work / "read"
        folder.mkdir(exist_ok=True)
        clock = time.process_time
        for n, p in self.defs.items():
            files = [self.filled_form(p, seed, folder) for seed in range(4)]

            def ours():
                for f in files:
                    read_file(f, self.registry)

            def full_load():
                for f in files:
                    wb = openpyxl.load_workbook(f)
                    for ws in wb.worksheets:
                        for row in ws.iter_rows():
                            for c in row:
                                c.value

            def calamine():
                for f in files:
                    wb = CalamineWorkbook.from_path(str(f))
                    for name in wb.sheet_names:
                        wb.get_sheet_by_name(name).to_python()
            ours()  # the expected form of each template is rendered once and cached, as in a collection
            k = 3
            mine, base, cal = [], [], []
            for _ in range(self.repeat):   # interleaved: a busy spell touches all three alike
                mine.append(statistics.median(timed(ours, k, clock)))
                base.append(statistics.median(timed(full_load, k, clock)))
                if CalamineWorkbook:
                    cal.append(statistics.median(timed(calamine, 3 * k, clock)))
            ratios = sorted(b / o for o, b in zip(mine, base))
            med = statistics.median(ratios)
            per_file = statistics.median(mine) / len(files) * 1000
            self.add(f"read {n} indicators", f"{med:.2f}x faster than openpyxl full load (min {ratios[0]:.2f}, "
                     f"max {ratios[-1]:.2f}; {per_file:.2f} ms/file)", ">= 3x", med >= 3)
            if cal:
                slower = sorted(o / c for o, c in zip(mine, cal))
                med = statistics.median(slower)
                self.add(f"read {n} indicators vs calamine", f"{med:.2f}x python-calamine's value dump (min "
                         f"{slower[0]:.2f}, max {slower[-1]:.2f}; {per_file:.2f} vs "
                         f"{statistics.median(cal) / len(files) * 1000:.2f} ms/file)",
                         "<= 5x" if n == 40 else "", med <= 5 or n != 40,
                         "every check, scores recomputed; calamine reads values only")

    def read_templates(self, count: int):
        """A collection of one template per return: reading `count` returns of `count` templates (each met for
        the first time, in a fresh process, as in `xlform collect`) against `count` returns of one template.
        Each template's layout and expected cells are the registry's, loaded once per version; a layout is
        shared by the versions laid out alike (40 indicators each here), so the figure of `count` templates of
        20 shapes (31 to 50 indicators; fewer in a quick run) is given beside it. Sixty of each: a sample of
        twenty gave ratios up to 0.1 apart from one run to the next."""
        from dataclasses import replace
        from .definition.definition import load
        folder = self.work / "templates"
        if len(list((folder / "shapes").glob("*.xlsx"))) != count:   # (one kept by an earlier bench: made again)
            shutil.rmtree(folder, ignore_errors=True)
            for t in range(count):
                p = replace(self.defs[40], id=f"bench-tpl-{t:03d}", project=f"基准模板项目{t:03d}")
                source = self.work / "defs" / f"shape-{t:03d}.yaml"
                source.write_text(definition_text(31 + t % 20, f"bench-shape-{t:03d}"), encoding="utf-8")
                for sub, form in (("distinct", p), ("repeated", self.defs[40]), ("shapes", load(source))):
                    (folder / sub).mkdir(parents=True, exist_ok=True)
                    self.filled_form(form, t, folder / sub)
            self.filled_form(self.defs[40], count, folder / "repeated")
            self.filled_form(replace(self.defs[40], id="bench-tpl-warm", project="基准模板预热"), 0, folder)
        ratios, times = [], []
        for r in range(self.repeat):
            out = subprocess.run([sys.executable, "-c", "import sys; from xlform.bench import _templates_probe; "
                                  "_templates_probe(*sys.argv[1:])", str(folder), str(self.registry_path),
                                  "distinct-first" if r % 2 else "repeated-first"],
                                 capture_output=True, text=True, timeout=600)
            if out.returncode:
                raise RuntimeError(f"template probe failed: {out.stderr[-2000:]}")
            distinct, repeated, shapes = map(float, out.stdout.split())
            ratios.append((distinct / repeated, shapes / repeated))
            times.append((distinct, repeated, shapes))
        for which, floor in ((0, True), (1, False)):
            rs = sorted(r[which] for r in ratios)
            med = statistics.median(rs)
            mine, repeated = (statistics.median(t[i] for t in times) * 1000 for i in (2 * which, 1))
            what = "vs of 1" if floor else f"of {min(count, 20)} shapes vs of 1"
            self.add(f"read {count} returns of {count} templates {what}", f"{med:.2f}x (min {rs[0]:.2f}, max "
                     f"{rs[-1]:.2f}; {mine:.2f} vs {repeated:.2f} ms/file)", "<= 1.2x" if floor else "",
                     med <= 1.2 or not floor,
                     "40 indicators; each template read for the first time" if floor else
                     "31 to 50 indicators: 20 layouts among the templates")

    def corpus(self, count: int) -> Path:
        """count distinct returns of 40-indicator forms (25 templates), as files arrive in a folder."""
        from dataclasses import replace
        folder = self.work / f"corpus-{count}"
        if folder.exists():
            return folder
        base = self.work / "corpus-base"
        base.mkdir(exist_ok=True)
        sources = []
        for t in range(25):
            p = replace(self.defs[40], id=f"bench-40-{t:02d}", project=f"基准测试项目{t:02d}")
            sources += [self.filled_form(p, seed, base) for seed in range(2)]
        folder.mkdir()
        for i in range(count):
            dst = folder / f"sub{i % 10}" / f"return-{i:05d}.xlsx"
            dst.parent.mkdir(exist_ok=True)
            shutil.copyfile(sources[i % len(sources)], dst)
            with zipfile.ZipFile(dst, "a") as z:
                z.comment = f"mail {i}".encode()
        return folder

    def province(self, counts) -> dict[int, tuple[Path, Path]]:
        """{count: (folder, registry)}: a province's collection, one project per return (see province_definition),
        rendered and filled in worker processes; each smaller count is the start of the larger, with a
        registry of its own (a registry's other templates would be 未报送)."""
        out, done = {}, 0
        registry = self.work / "province-registry.db"
        if not (self.work / f"province-{max(counts)}").exists():
            registry.unlink(missing_ok=True)
        for count in sorted(counts):
            folder, snapshot = self.work / f"province-{count}", self.work / f"province-registry-{count}.db"
            out[count] = (folder, snapshot)
            if not folder.exists():
                todo = list(range(done, count))
                with multiprocessing.get_context("fork").Pool(os.cpu_count() or 1) as pool:
                    for _ in pool.imap_unordered(_province_returns, [(str(self.work), str(registry), todo[k::16])
                                                                     for k in range(16)]):
                        pass
                folder.mkdir()
                for i in range(count):   # the smaller collection's files are the start of this one
                    src = self.work / "province-files" / _province_name(i)
                    (folder / src.parent.name).mkdir(exist_ok=True)
                    os.link(src, folder / src.parent.name / src.name)
                source, copy = sqlite3.connect(registry), sqlite3.connect(snapshot)
                source.backup(copy)
                source.close()
                copy.close()
            done = count
        return out

    def collect(self, counts):
        """`xlform collect` with summary and reports, on both corpora: the 25-template one (40 indicators) and a
        province's (one template per return); time, peak memory, each phase, database size. The floors of
        time scale with the calibration loop (see calibration) against the machine they were set on, taken again
        once the corpora are made. A collection of a few seconds is run three times (the median run is shown):
        once, it moved by a tenth from one bench to the next."""
        folders = {corpus: {c: (self.corpus(c), self.registry_path) for c in counts} if corpus == "25 templates"
                   else self.province(counts) for corpus in ("25 templates", "distinct")}
        self.calibrate(" before the collects")   # (making the corpora may take minutes)
        scale = self.scale
        results = {}
        for corpus in ("25 templates", "distinct"):
            for count in counts:
                folder, registry = folders[corpus][count]
                for jobs in ((1, 2) if count == counts[-1] and corpus == "25 templates" else (2,)):
                    runs = sorted((self.collect_once(folder, registry, count, jobs)
                                   for _ in range(3 if count <= 1000 and not self.quick else 1)), key=lambda r: r[0])
                    results[(corpus, count, jobs)] = runs[len(runs) // 2]
        for corpus in ("25 templates", "distinct"):
            for count in counts:
                seconds, peak, phases, size = results[(corpus, count, 2)]
                floor = 3 * count / 1000 * scale   # 30 s for 10,000 on the reference machine
                mb = 250 if corpus == "25 templates" else 300
                self.add(f"collect {count:,} files ({corpus}) --jobs 2", f"{seconds:.1f} s, peak {peak / 2**20:.0f} MB",
                         f"< {floor:.1f} s, < {mb} MB", seconds < floor and peak < mb * 2**20,
                         f"{phases}; database {size / count * 1000 / 2**20:.1f} MB per 1,000 returns")
            if len(counts) > 1:
                a, b = results[(corpus, counts[0], 2)][1], results[(corpus, counts[-1], 2)][1]
                limit = 1.2 if corpus == "25 templates" else 1.25
                self.add(f"collect peak memory {counts[-1]:,} vs {counts[0]:,} files ({corpus})", f"{b / a:.2f}x",
                         f"<= {limit}x", b / a <= limit)
        one, two = results[("25 templates", counts[-1], 1)][0], results[("25 templates", counts[-1], 2)][0]
        self.add(f"collect --jobs 2 vs --jobs 1 ({counts[-1]:,} files)", f"{one / two:.2f}x faster "
                 f"({one:.1f} s -> {two:.1f} s)", ">= 1.7x", one / two >= 1.7)

    def collect_once(self, folder: Path, registry: Path, count: int, jobs: int):
        """(seconds, peak memory of the process tree, its phases as collect prints them, database bytes)."""
        db = self.work / f"c-{folder.name}-{jobs}.db"
        db.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "xlform.cli", "collect", str(folder), "--db", str(db), "--jobs", str(jobs),
               "--quiet", "--registry", str(registry), "--summary", str(self.work / "s.xlsx"),
               "--report", str(self.work / "reports")]
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds, peak, err = run_measured(cmd)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)   # collect and its workers, all waited for
        cpu = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
        if f"{count} files: {count} read" not in err:
            raise RuntimeError(f"collect did not read every file: {err}")
        phases = re.search(r"\((reading .*)\)\s*$", err.strip().splitlines()[-1] if err.strip() else "")
        return seconds, peak, f"CPU {cpu:.1f} s; " + (phases.group(1) if phases else ""), db.stat().st_size

    def render_parallel(self, count: int):
        folder = self.work / "defs-many"
        folder.mkdir(exist_ok=True)
        for i in range(count):
            (folder / f"d{i:04d}.yaml").write_text(definition_text(40, f"many-{i:04d}"), encoding="utf-8")
        times = {}
        for jobs in (1, 2):
            reg = self.work / f"r-{jobs}.db"
            reg.unlink(missing_ok=True)
            cmd = [sys.executable, "-m", "xlform.cli", "render", str(folder), "-o", str(self.work / f"many-{jobs}"),
                   "--registry", str(reg), "--jobs", str(jobs)]
            times[jobs] = run_measured(cmd, memory=False)[0]
        self.add(f"render --jobs 2 vs --jobs 1 ({count} forms)", f"{times[1] / times[2]:.2f}x faster "
                 f"({times[1]:.1f} s -> {times[2]:.1f} s)", ">= 1.7x", times[1] / times[2] >= 1.7)

    def cold_start(self):
        one = self.filled_form(self.defs[40], 0, self.work)

        def median_run(cmd):
            return statistics.median(run_measured(cmd, memory=False)[0] for _ in range(5))
        helptime = median_run([sys.executable, "-m", "xlform.cli", "--help"])
        script = shutil.which("xlform")
        if script:
            helptime = min(helptime, median_run([script, "--help"]))
        readtime = median_run([sys.executable, "-m", "xlform.cli", "read", str(one), "--registry",
                               str(self.registry_path)])
        base = median_run([sys.executable, "-c", "pass"])
        self.add("cold start `xlform --help`", f"{helptime:.3f} s (python itself: {base:.3f} s)",
                 f"< {0.3 * self.scale:.2g} s", helptime < 0.3 * self.scale)
        self.add("cold start `xlform read FILE` (40 indicators)", f"{readtime:.3f} s", "", True)

    def import_flat(self, count: int):
        """`xlform import` of a flat list (one row per indicator, as budget systems export) of `count`
        projects of 12 indicators: reading, finding, writing and checking every definition."""
        import xlsxwriter
        from .importing.importer import import_files
        path = self.work / f"flat-{count}.xlsx"
        book = xlsxwriter.Workbook(str(path))
        ws = book.add_worksheet()
        ws.write_row(0, 0, ["项目名称", "主管部门", "实施单位", "年初预算数", "全年预算数", "一级指标", "二级指标",
                            "三级指标", "年度指标值", "分值"])
        levels = [("产出指标", "数量指标", 10)] * 5 + [("效益指标", "社会效益指标", 7.5)] * 4 + \
            [("满意度指标", "服务对象满意度指标", 10 / 3)] * 3
        r = 1
        for n in range(count):
            for i, (level1, level2, weight) in enumerate(levels):
                ws.write_row(r, 0, [f"基准项目{n:04d}", f"基准部门{n % 20:02d}", f"基准单位{n % 7}", 100 + n, 110 + n,
                                    level1, level2, f"指标{i:02d}", f"≥{i + 1}次", round(weight, 2)])
                r += 1
        book.close()
        times = []
        for k in range(self.repeat):
            folder = self.work / f"imported-{count}-{k}"
            shutil.rmtree(folder, ignore_errors=True)   # (--keep: import writes no definition over one there)
            start = time.perf_counter()
            out = import_files([path], folder, year=2024)
            times.append(time.perf_counter() - start)
            if len(out.written) != count:
                raise RuntimeError(f"import wrote {len(out.written)} of {count} definitions")
        times.sort()
        med = statistics.median(times)
        self.add(f"import flat list, {count} projects", f"{med:.2f} s (min {times[0]:.2f}, max {times[-1]:.2f}; "
                 f"{med / count * 1000:.1f} ms/project)", f"< {10 * self.scale:.3g} s" if count == 500 else "",
                 med < 10 * self.scale)

    def desk(self, uploads: int = 20, floor: float = 0.3, db_url: str | None = None, timeout: float = 30.0):
        """`xlform serve` on 127.0.0.1 (a free port): rounds of `uploads` departments each sending its return at
        the same moment; the p95 of the time from the upload's first byte to the checked page's last (at most
        `floor` seconds on the reference machine, scaled as every floor in seconds), and every upload stored, in a
        SQLite file or the PostgreSQL database `db_url` (emptied first). Bounded: `repeat` rounds, one request per
        department each, a timeout on each."""
        import hashlib
        import http.client
        import re
        from concurrent.futures import ThreadPoolExecutor
        from dataclasses import replace
        from .desk import auth
        from .storage.store import Store
        engine = "PostgreSQL" if db_url else "SQLite"
        folder = self.work / f"desk-{engine}-{uploads}"
        shutil.rmtree(folder, ignore_errors=True)   # (--keep: a desk of an earlier run held its uploads)
        folder.mkdir()
        db = db_url or str(folder / "collect.db")
        store = Store(db)
        if db_url:
            with store.db.transaction():
                for table in ("problems", "extra_values", "indicators", "funds", "projects", "submissions",
                              "file_paths", "files", "uploads", "department_links", "desk_sessions"):
                    store.db.execute(f"DELETE FROM {table}")
        projects, tokens = [], []
        for t in range(uploads):
            p = replace(self.defs[40], id=f"desk-40-{t:02d}", project=f"上传测试项目{t:02d}", department=f"上传测试局{t:02d}")
            projects.append(p)
            tokens.append(auth.new_token())
            store.set_link(p.department, auth.token_hash(tokens[-1]), "bench")
        rounds = [[self.filled_form(p, 100 * r + n, folder).read_bytes() for n, p in enumerate(projects)]
                  for r in range(self.repeat)]
        env = {**os.environ, "XLFORM_ADMIN_PASSWORD": "bench-password"}
        server = subprocess.Popen([sys.executable, "-m", "xlform.cli", "serve", "--db", db, "--registry",
                                   str(self.registry_path), "--host", "127.0.0.1", "--port", "0", "--threads", "8",
                                   "--uploads", str(folder / "uploads")],
                                  env=env, stderr=subprocess.PIPE, text=True)
        try:
            port = None
            deadline = time.monotonic() + timeout
            while port is None and time.monotonic() < deadline:
                line = server.stderr.readline()
                if not line:
                    break
                m = re.match(r"xlform desk on http://127\.0\.0\.1:(\d+)/", line)
                port = int(m.group(1)) if m else None
            if port is None:
                raise RuntimeError(f"xlform serve did not start (exit {server.poll()})")
            threading.Thread(target=server.stderr.read, daemon=True).start()   # keep its log flowing

            def request(method, path, body=b"", headers=None):
                con = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                try:
                    con.request(method, path, body, headers or {})
                    r = con.getresponse()
                    return (r.status, r.getheader("Set-Cookie") or "", r.read().decode("utf-8"),
                            r.getheader("Location"))
                finally:
                    con.close()
            sessions = []
            for token in tokens:   # each department opens its page first: its session cookie and CSRF token
                status, cookie, page, _ = request("GET", f"/d/{token}")
                sessions.append((cookie.split(";", 1)[0], re.search(r'name="csrf" value="([^"]+)"', page).group(1)))

            def send(token, session, data: bytes, n: int) -> float:
                boundary = hashlib.sha256(data).hexdigest()[:32]
                body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{session[1]}\r\n"
                        f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"return-{n}.xlsx\"\r\n"
                        "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n"
                        ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
                started = time.perf_counter()
                status, _, page, answer = request("POST", f"/d/{token}/upload", body, {
                    "Content-Type": f"multipart/form-data; boundary={boundary}", "Cookie": session[0]})
                if status == 303:   # post/redirect/get: the checked answer is the page it leads to
                    status, _, page, _ = request("GET", answer, b"", {"Cookie": session[0]})
                took = time.perf_counter() - started
                if status != 200 or 'class="result" data-state="' not in page:
                    raise RuntimeError(f"upload {n} was not checked: HTTP {status}")
                return took
            p95s = []
            cpu = _cpu_seconds(server.pid)
            with ThreadPoolExecutor(uploads) as pool:
                for files in rounds:
                    times = sorted(pool.map(send, tokens, sessions, files, range(uploads)))
                    p95s.append(times[max(0, -(-len(times) * 95 // 100) - 1)])
            if cpu is not None:
                cpu = (_cpu_seconds(server.pid) - cpu) / (uploads * len(rounds))
        finally:
            server.terminate()
            try:
                server.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        logged = store.uploads(limit=uploads * self.repeat + 10)
        stored = sum(u["result"] == "stored" for u in logged)
        current = len(store.current_submissions())
        store.close()
        p95s.sort()
        med = statistics.median(p95s)
        floor *= self.scale   # (the server's CPU: 14-16 ms an upload, the readers' work on two cores)
        self.add(f"desk: {uploads} concurrent uploads (40 indicators), {engine}",
                 f"p95 {med * 1000:.0f} ms upload to checked answer (min {p95s[0] * 1000:.0f}, max {p95s[-1] * 1000:.0f}); "
                 f"{stored} of {uploads * len(rounds)} stored", f"p95 < {floor * 1000:.0f} ms, all stored",
                 med < floor and stored == uploads * len(rounds) and current == uploads,
                 "" if cpu is None else f"CPU {cpu * 1000:.1f} ms/upload (server and readers)")

    def table(self) -> str:
        head = ("measure", "figure", "floor", "", "reference")
        rows = [head] + self.rows
        widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
        return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def byte_compiled():
    """xlform measured as `pip install` leaves it, byte-compiled: an editable install (or PYTHONDONTWRITEBYTECODE)
    leaves each process it starts compiling the package's source again, 0.07 s of CPU at every start that an
    installed xlform does not spend."""
    import compileall
    compileall.compile_dir(str(Path(__file__).parent), quiet=1)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m xlform.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a small smoke run (the test suite runs this)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per figure; median, min and max are shown")
    ap.add_argument("--files", default="1000,10000", help="collection sizes, comma-separated")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    ap.add_argument("--only", choices=["desk", "read", "collect"], help="run one part alone (the desk: uploads to "
                    "`xlform serve`; read: the reader against openpyxl and calamine, and one template per return; "
                    "collect: both corpora, kept with --keep for the next run)")
    ap.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database for the desk part too "
                    "(its tables are emptied)")
    args = ap.parse_args(argv)
    byte_compiled()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="xlform-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    counts = [40] if args.quick else [int(x) for x in args.files.split(",")]
    templates = 8 if args.quick else 60   # returns of as many templates in the template probe
    repeat = 1 if args.quick else args.repeat
    try:
        b = Bench(work, repeat, args.quick)
        print(f"xlform benchmark on {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
              f"{time.strftime('%Y-%m-%d')}", flush=True)
        b.calibrate()
        if args.only == "read":
            b.read()
            b.read_templates(templates)
        elif args.only == "collect":
            b.collect(counts)
        elif not args.only:
            for step in (b.render, b.read):
                step()
            b.read_templates(templates)
            b.collect(counts)
            b.render_parallel(8 if args.quick else 200)
            b.cold_start()
            b.import_flat(20 if args.quick else 500)
        for url in [None] + ([args.postgres] if args.postgres else []) if args.only in (None, "desk") else []:
            b.desk(20, 0.3, url)
            if not args.quick:
                b.desk(50, 0.6, url)
        print(b.table())
        return 0 if args.quick or all(r[3] == "ok" for r in b.rows) else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
