"""The order collect reads returns in: those of one layout together (by the name they were issued under), and
each worker its own stretch of them first; only the order, never what is read."""
import multiprocessing
import shutil

from click.testing import CliRunner

from helpers import definition, load_def
from xlform.cli import main
from xlform.collecting.collector import SHARE, _taken, by_layout
from xlform.issue.registry import Registry
from xlform.issue.renderer import render


def indicators(n: int, first: str = "数量指标"):
    return [("产出指标", first, f"指标{i}", "≥1次", 90 / n) for i in range(n)]


def test_returns_laid_out_alike_are_read_together(tmp_path):
    """Six templates of two layouts (3 and 5 indicators) issued one to a workbook, their returns in folders by
    department, mixed; one renamed by its department, one with its name in capitals."""
    projects = [load_def(tmp_path, definition(indicators(3 if n % 2 else 5), id=f"p-{n}", project=f"项目{n}",
                                              allow_total=100), f"d{n}.yaml") for n in range(6)]
    reg = Registry(tmp_path / "r.db")
    issued = {i.sheets[0][1]: i.file for i in render(projects, tmp_path / "issued", registry=reg)}
    layouts = {tid: reg.lookup(tid)["issued"].layout_key for tid in issued}
    assert len(set(layouts.values())) == 2   # (the two layouts)
    inbox = tmp_path / "inbox"
    names = {"p-0": "甲局/p-0.xlsx", "p-1": "乙局/p-1.xlsx", "p-2": "乙局/P-2.XLSX", "p-3": "甲局/p-3.xlsx",
             "p-4": "丙局/附件1.xlsx", "p-5": "丙局/p-5.xlsx"}
    for tid, name in names.items():
        (inbox / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(issued[tid], inbox / name)
    files = sorted(inbox / name for name in names.values())

    order = by_layout(files, reg)
    by_name = {str(inbox / name): tid for tid, name in names.items()}
    read = [by_name[p] for p in order]
    assert sorted(read) == sorted(names)   # every file, once
    assert read[-1] == "p-4"               # renamed: no layout known by its name, after the others
    # those of one layout one after the other (p-2 too, named in capitals), each layout's by path
    runs = [layouts[tid] for tid in read[:-1]]
    assert runs == sorted(runs, key=runs.index)
    for layout in set(runs):
        assert [tid for tid in read[:-1] if layouts[tid] == layout] == \
            [by_name[str(f)] for f in files if by_name[str(f)] != "p-4" and layouts[by_name[str(f)]] == layout]
    reg.close()

    # collected with two workers, every return is read and stored as before (only the order changed)
    result = CliRunner().invoke(main, ["collect", str(inbox), "--db", str(tmp_path / "c.db"), "--jobs", "2",
                                       "--registry", str(tmp_path / "r.db"), "--summary", str(tmp_path / "s.xlsx"),
                                       "--report", str(tmp_path / "reports"), "--quiet"])
    assert "6 files: 6 read, 6 records" in result.output, result.output


def test_a_worker_reads_its_own_stretch_then_the_end_of_the_largest_left():
    paths = [f"f{n:02d}" for n in range(4 * SHARE + 3)]   # 35: stretches [0, 17) and [17, 35)
    stretches = multiprocessing.get_context("fork").Array("l", [0, 17, 17, 35])
    first, second = _taken(paths, stretches, 0), _taken(paths, stretches, 1)
    got = {0: [next(first)], 1: [next(second)]}
    assert got == {0: ["f00"], 1: ["f17"]}   # each from the start of its own
    got[0] += [next(first) for _ in range(16)]   # worker 0 reads the rest of its own (a share at a time) ...
    assert got[0] == paths[:17]
    assert list(stretches) == [17, 17, 25, 35]   # (worker 1 took its first share: f17 to f24)
    got[0].append(next(first))                   # ... then the last share of worker 1's stretch, from its start
    assert got[0][-1] == "f27" and list(stretches) == [17, 17, 25, 27]
    got[1] += list(second)   # worker 1 reads on to the end of what is left of its own, then finds nothing
    got[0] += list(first)
    assert got[1] == paths[17:27] and got[0][17:] == paths[27:]
    assert sorted(got[0] + got[1]) == paths   # every path once
