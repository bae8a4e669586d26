"""What the reader works out per template version is kept while it is likely to be met again (issue 22): a
collection of few templates looks each version up once, a province's collection of one template per return
keeps only a handful of versions alive (a single cache of 64 kept each for 64 returns, and freeing them, cold,
cost a tenth of a read)."""
import gc
import weakref

import pytest
from helpers import GOOD, SMALL, definition, fill_openpyxl, load_def

from xlform.caching import VersionCache
from xlform.definition import definition as definitions
from xlform.issue.registry import Registry
from xlform.issue.renderer import render
from xlform.returns import sheet as sheet_reader
from xlform.returns.reader import read_file


def test_an_entry_met_once_waits_among_the_recent_few_and_one_met_again_is_kept():
    cache = VersionCache(recent=3, kept=4)
    cache.put("once", 1)
    cache.put("again", 2)
    assert cache.get("again") == 2          # met again: kept
    for n in range(10):                     # a province's versions, each met once
        cache.put(("new", n), n)
    assert cache.get("once") is None        # gone with the recent few
    assert cache.get("again") == 2          # still kept
    assert len(cache.recent) <= 3 and len(cache.kept) <= 4
    for n in range(6):                      # more met again than the kept part holds: bounded
        cache.put(("twice", n), n)
        assert cache.get(("twice", n)) == n
    assert len(cache.kept) <= 4
    cache.clear()
    assert len(cache) == 0 and cache.get(("twice", 5)) is None


def test_an_entry_made_again_after_leaving_the_recent_few_is_kept():
    """A collection of 25 templates meets each again after 24 others: the second time it is made, it stays."""
    cache = VersionCache(recent=3, kept=30)
    for _ in range(2):
        for n in range(25):
            if cache.get(n) is None:
                cache.put(n, str(n))
    assert sorted(cache.kept) == list(range(25))
    assert all(cache.get(n) == str(n) for n in range(25))


@pytest.fixture
def returns(tmp_path):
    """12 templates (12 projects), one return of each, and the registry they were issued with."""
    reg_path = tmp_path / "registry.db"
    reg = Registry(reg_path)
    files = []
    for n in range(12):
        project = load_def(tmp_path, definition(SMALL, id=f"vc-{n:02d}", project=f"缓存项目{n:02d}"), f"d{n}.yaml")
        [issued] = render([project], tmp_path / "issued", registry=reg)
        files.append(fill_openpyxl(issued.file, tmp_path / f"r{n:02d}.xlsx", GOOD))
    reg.close()
    sheet_reader.forget_versions()
    yield files, reg_path
    sheet_reader.forget_versions()


def test_a_collection_of_few_templates_looks_each_version_up_once(returns, monkeypatch):
    files, reg_path = returns
    looked_up = []
    real = Registry._lookup
    monkeypatch.setattr(Registry, "_lookup", lambda self, tid, v: looked_up.append(tid) or real(self, tid, v))
    reg = Registry(reg_path, create=False)
    try:
        for _ in range(10):                  # three templates' returns, again and again
            for f in files[:3]:
                [record] = read_file(f, reg)
                assert record.errors == [], record.errors
    finally:
        reg.close()
    assert sorted(looked_up) == ["vc-00", "vc-01", "vc-02"]


def test_a_collection_of_more_templates_than_the_recent_few_makes_each_version_twice_at_most(returns, monkeypatch):
    files, reg_path = returns   # 12 templates, more than the 8 recent: each is met again after 11 others
    looked_up = []
    real = Registry._lookup
    monkeypatch.setattr(Registry, "_lookup", lambda self, tid, v: looked_up.append(tid) or real(self, tid, v))
    reg = Registry(reg_path, create=False)
    try:
        for round_ in range(4):
            for f in files:
                [record] = read_file(f, reg)
                assert record.errors == [], record.errors
            if round_ == 1:
                after_two = list(looked_up)
    finally:
        reg.close()
    assert set(after_two) == {f"vc-{n:02d}" for n in range(12)}
    assert all(after_two.count(t) <= 2 for t in after_two) and len(after_two) > 12   # some left the recent few
    assert looked_up == after_two   # none in the last two rounds: all kept


def test_a_province_collection_keeps_only_a_handful_of_versions_alive(returns, monkeypatch):
    files, reg_path = returns
    made = []   # every Project the registry made of a version, weakly: alive while some cache keeps it
    real = definitions.from_canonical
    monkeypatch.setattr("xlform.issue.registry.from_canonical",
                        lambda c, source="": (made.append(weakref.ref(p := real(c, source))), p)[1])
    reg = Registry(reg_path, create=False)
    try:
        for f in files:                      # each template met once
            [record] = read_file(f, reg)
            assert record.errors == [], record.errors
        gc.collect()
        alive = [r() for r in made if r() is not None]
        assert len(made) == 12
        assert len(alive) <= 8, [p.id for p in alive]    # the recent few of each cache, no more
        assert made[0]() is None             # the first version, long gone
        [again] = read_file(files[0], reg)   # and read again as it was read first
        assert again.errors == [] and again.total_score == read_file(files[0], reg)[0].total_score
    finally:
        reg.close()


def test_versions_share_the_scoring_rules_of_the_targets_they_share(tmp_path):
    from xlform.form.evaluate import rules
    from xlform.scoring.scoring import PROFILES
    project = load_def(tmp_path, definition(SMALL + [("效益指标", "社会效益指标", "人工评分", "良好", 10,
                                                      {"rule": "manual", "was": "旧名称"})]))
    a = definitions.from_canonical(project.canonical())
    b = definitions.from_canonical({**project.canonical(), "id": "another", "project": "另一个项目"})
    assert a == project and a.hash == project.hash and hash(a.indicators) == hash(project.indicators)
    manual = next(i for i in a.indicators if i.name == "人工评分")
    assert manual.manual and manual.was == "旧名称"
    national = rules(a, PROFILES["national"])
    assert all(x is y for x, y in zip(national, rules(b, PROFILES["national"])))   # one object per target
    share = rules(a, PROFILES["share"])
    kinds = {i.name: (n.kind, s.kind) for i, n, s in zip(a.indicators, national, share)}
    assert kinds == {"培训次数": ("at_least", "at_least"), "覆盖率": ("at_least", "at_least"),
                     "群众意识": ("tiers", "share"), "人工评分": ("manual", "manual"), "满意度": ("at_least", "at_least")}
    assert national[0].score(3, 30) == pytest.approx(22.5)
