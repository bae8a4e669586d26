"""One error base class and the problem record shared by every step."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """Something wrong, and where: a file and line (definitions) or a sheet cell (workbooks)."""

    where: str      # "examples/a.yaml:12" or "自评表!F13"
    field: str      # "indicators.产出指标.数量指标[0].weight"
    message: str    # what is wrong and how to fix it
    code: str = "invalid"
    severity: str = "error"

    def __str__(self) -> str:
        field = f" {self.field}:" if self.field else ""
        return f"{self.where}:{field} {self.message}"


class XlformError(Exception):
    """Base of every error xlform raises on purpose; the CLI prints it without a traceback."""

    exit_code = 1


class DefinitionError(XlformError):
    """A project definition (YAML) that cannot be used; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
