"""The 抽查 sample: which of the collected, current 自评表 returns the finance bureau reviews.

Reproducible: the same seed and the same collection give the same sample, on any machine and Python (no
random module: each project's place in its stratum is the SHA-256 of the seed and its template id).
- size: the share of the returns (rounded up), at least `least`, at most all of them;
- the `largest` projects by 全年预算数 are always drawn (ties by template id), counted in the size;
- the rest is stratified by 主管部门: each department's part of the remaining size is proportional to its
  returns (largest remainders, ties by department), drawn in the order of the hashes.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    seed: int
    share: float = 0.15
    least: int = 10
    largest: int = 0
    departments: tuple = ()


def size(population: int, s: Settings) -> int:
    n = math.ceil(round(s.share * population, 9))   # 0.15 × 20 is 3, not 3.0000000000000004 → 4
    return min(population, max(n, s.least, s.largest))


def order_key(seed: int, template_id: str) -> str:
    return hashlib.sha256(f"{seed}:{template_id}".encode()).hexdigest()


def allocate(quota: int, strata: dict[str, int]) -> dict[str, int]:
    """Each stratum's part of `quota`, proportional to its size (Hamilton: floors, then the largest
    remainders; ties by the stratum's name)."""
    total = sum(strata.values())
    if not total or quota <= 0:
        return {k: 0 for k in strata}
    exact = {k: quota * n / total for k, n in strata.items()}
    parts = {k: math.floor(v + 1e-9) for k, v in exact.items()}
    left = quota - sum(parts.values())
    for k in sorted(strata, key=lambda k: (-(exact[k] - parts[k]), k))[:left]:
        parts[k] += 1
    return parts


def draw(population: list[dict], s: Settings) -> list[dict]:
    """The sample, each project with `why` it was drawn: the largest first (by 全年预算数), then by department
    and draw order. `population`: dicts of submission_id, template_id, department, project, annual."""
    n = size(len(population), s)
    by_budget = sorted(population, key=lambda r: (-(r["annual"] or 0), r["template_id"]))
    big = by_budget[:min(s.largest, n)]
    drawn = [{**r, "why": f"largest 全年预算数 #{rank} ({r['annual'] or 0:g} 万元)"} for rank, r in enumerate(big, 1)]
    taken = {r["template_id"] for r in big}
    strata: dict[str, list[dict]] = {}
    for r in population:
        if r["template_id"] not in taken:
            strata.setdefault(r["department"] or "", []).append(r)
    parts = allocate(n - len(big), {d: len(rs) for d, rs in strata.items()})
    for department in sorted(strata):
        members = sorted(strata[department], key=lambda r: order_key(s.seed, r["template_id"]))
        k = parts[department]
        drawn += [{**r, "why": f"主管部门 {department or '（空）'}: {k} of {len(members)} drawn (seed {s.seed})"}
                  for r in members[:k]]
    return drawn
