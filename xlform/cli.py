"""The `xlform` command: a thin click layer. The exit-code policy is in xlform/errors.py; `_Main` applies it
to every command, so that no command ends in a traceback."""
from __future__ import annotations

import os
import re
import sqlite3
import sys
import time
from pathlib import Path

import click

from . import __version__
from .errors import CANNOT_RUN, OK, PROBLEMS, CannotRun, XlformError, failing, reason

_DEFS = click.argument("definitions", nargs=-1, required=True, type=click.Path(readable=False))  # opened by _load
_REGISTRY_FIX = "name the registry `xlform render` wrote with --registry"


class _Failed(click.ClickException):
    """An error that ends the command: 'Error: ' and one line for each line of the message."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None):
        for line in self.format_message().splitlines() or [""]:
            click.echo(f"Error: {line}", err=True)


def _usage(e: click.UsageError) -> click.ClickException:
    """click's usage error as one line (not click's usage text and hint): what is wrong, and where the help is.
    `xlform` alone still shows the help."""
    if isinstance(e, getattr(click.exceptions, "NoArgsIsHelpError", ())):
        return e
    names, ctx = [], e.ctx
    while ctx is not None and ctx.parent is not None:   # the command's name, however xlform was started
        names.insert(0, ctx.info_name)
        ctx = ctx.parent
    return _Failed(f"{' '.join(e.format_message().split())} (see {' '.join(['xlform', *names])} --help)", CANNOT_RUN)


class _Main(click.Group):
    """Runs every command under the one exit-code policy (xlform/errors.py)."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as e:  # an option of xlform itself
            raise _usage(e) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as e:  # a command's arguments, or a usage error a command raised itself
            raise _usage(e) from None
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except XlformError as e:
            raise _Failed(str(e), e.exit_code)
        except (OSError, sqlite3.Error) as e:  # a path no step named: say which, if the error knows
            where = getattr(e, "filename", None)
            raise _Failed(f"cannot use {where}: {reason(e)}" if where else reason(e), CANNOT_RUN)
        except Exception as e:
            if os.environ.get("XLFORM_DEBUG"):
                raise
            detail = f"{type(e).__name__}: {e}".splitlines()[0]
            raise _Failed(f"internal error ({detail}); please report it with the command you ran "
                          "(XLFORM_DEBUG=1 shows the traceback)", CANNOT_RUN)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xlform")
def main():
    """xlform: 项目支出绩效自评表 (project expenditure performance self-evaluation forms) from YAML
    definitions to locked, self-scoring Excel workbooks.

    Exit codes: 0 clean; 1 returns or definitions with errors (a file that is no workbook too); 2 the command
    could not run (bad usage, an input that cannot be opened, no registry where one is needed, an unwritable
    output, a locked or read-only database, a full disk).
    """


def _shared_part(path: Path) -> bool:
    """A file named `_…` without an `id`: a shared part for `extends:`, not a definition of its own."""
    if not path.name.startswith("_") or not path.is_file():
        return False
    from .errors import DefinitionError
    from .yamlsource import read_file
    try:
        data = read_file(path).data  # bounded, as every definition is read
    except DefinitionError:
        return False  # loading it reports what is wrong
    return "id" not in data


def _openable(path: Path):
    """An input that cannot be opened at all (missing, no permission, a folder where a file is wanted) stops
    the command: exit 2, one line. Opened without waiting (a FIFO opens; reading it is the input's problem)."""
    with failing("read", path, "check the path and its permissions"):
        if path.is_dir():
            os.listdir(path)
        else:
            os.close(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)))


def _inputs(paths) -> list[Path]:
    """The files named, and the workbooks under each folder named, found as collect finds them (hidden files
    and Office lock files left out); each is opened first (see _openable)."""
    from .collecting.collector import find_files
    files: list[Path] = []
    for p in map(Path, paths):
        _openable(p)
        if p.is_dir():
            found, _ = find_files([p], set())
            if not found:
                raise CannotRun(f"no workbooks in {p} (.xlsx, .xlsm, .xls, .et, .ods); name the files, or another "
                                "folder")
            files += found
        else:
            files.append(p)
    for f in files:
        _openable(f)
    return list(dict.fromkeys(files))


def _not_a_workbook(path: Path) -> str | None:
    """Why a file is no workbook print can take, in the words read gives the department (None when it is one):
    every sheet read through the guarded reader, within print's limits. A workbook too large to print is left
    to print's own guard, which says how far past its limits it is."""
    from .messages import problem
    from .printing.printer import LIMITS
    from .xlsx.reader import BadWorkbook, Package
    try:
        with Package(path, LIMITS) as pkg:
            for info in pkg.sheets:
                pkg.sheet(info)
    except BadWorkbook as e:
        return None if e.code == "too_large" else problem(e.code, path.name, detail=e.detail).message
    return None


def _load(definitions, jobs: int = 1):
    from .definition.definition import load_many
    wanted = []
    for d in definitions:
        _openable(Path(d))
        if _shared_part(Path(d)):
            click.echo(f"Note: {d} skipped: a shared part for extends: (no id), not a definition", err=True)
        else:
            wanted.append(d)
    projects, problems = load_many(wanted, jobs)
    for p in problems:
        click.echo(f"Error: {p}", err=True)
    if not projects and not problems:
        raise CannotRun(f"no definitions in {', '.join(map(str, definitions))} (*.yaml, *.yml not starting with "
                        "'_'); name the definitions, or the folder that holds them")
    return projects, problems


def _not_nan(ctx, param, value):
    """click's FloatRange lets nan through (every comparison with it is false): --share nan was an internal error."""
    if value != value:
        raise click.BadParameter("nan is not a number")
    return value


def _registry_path(registry):
    """Where the registry is (registry.locate): a path, or a postgresql:// URL."""
    from .issue.registry import locate
    try:
        return locate(registry)
    except ValueError as e:
        raise click.UsageError(f"--registry: {e}")


def _open_registry(registry, create: bool = False):
    """The registry, read-only unless `create` (then it is written: render, migrate)."""
    from .issue.registry import Registry
    where = _registry_path(registry)
    with failing("open the registry", where.shown, _REGISTRY_FIX if not create else "name another with --registry"):
        return Registry(where, create=create)


def _registry_exists(where) -> bool:
    from .issue.registry import exists
    with failing("open the registry", where.shown, _REGISTRY_FIX):
        return exists(where)


def _require_registry(registry, command: str):
    """Returns are checked against the forms issued: without the registry every template would be unknown,
    so the command stops before reading or storing anything."""
    where = _registry_path(registry)
    if not _registry_exists(where):
        raise CannotRun(f"no registry at {where}: {command} checks returns against the forms `xlform render` "
                        "issued; name its registry with --registry or XLFORM_REGISTRY")


def _database(db_url):
    """Where the collection database is (store.db_path): a path, sqlite:///PATH or a postgresql:// URL."""
    from .storage.store import db_path
    try:
        return db_path(db_url)
    except ValueError as e:
        raise click.UsageError(f"--db: {e}")


def _write_records(records, fmt: str, out: str | None):
    """Records as JSON or CSV (with a BOM, so that Excel reads the Chinese), to a file or standard output."""
    from .storage.record import to_csv, to_json
    text = to_json(records) if fmt == "json" else to_csv(records)
    if out and out != "-":  # -o - is standard output
        from .outputs import atomic_write
        with failing("write", out, "choose another file with -o"):
            atomic_write(Path(out), text.encode("utf-8-sig" if fmt == "csv" else "utf-8"))
    else:
        click.echo(text.rstrip("\n"))


@main.command()
@_DEFS
def check(definitions):
    """Check definitions (YAML files or folders) without rendering anything.

    Every problem is printed as FILE:LINE: FIELD: MESSAGE; the exit code is 1 when there is any error.
    Warnings (a target without an operator read as ≥, 分值 departing from the national split) do not
    change the exit code.
    """
    projects, problems = _load(definitions)
    for p in projects:
        for w in p.warnings:
            click.echo(f"Warning: {w}", err=True)
        note = f", {len(p.warnings)} warnings" if p.warnings else ""
        click.echo(f"ok {p.source}: {p.id} {p.project} ({len(p.indicators)} indicators{note})")
    sys.exit(PROBLEMS if problems else OK)


@main.command()
@_DEFS
@click.option("-o", "--output", "out_dir", default="output", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the workbooks.")
@click.option("--per", type=click.Choice(["project", "department"]), default="project", show_default=True,
              help="One workbook per project (named after its id), or per 主管部门 with a sheet per project.")
@click.option("--password", envvar="XLFORM_PASSWORD", default=None,
              help="Sheet and workbook protection password [env XLFORM_PASSWORD]; protected without one "
                   "when not given.")
@click.option("--registry", envvar="XLFORM_REGISTRY", default=None, type=click.Path(dir_okay=False),
              help="The issuer's registry: a path or postgresql://USER:PASSWORD@HOST/DB [env XLFORM_REGISTRY; "
                   "default output/registry.db].")
@click.option("--jobs", type=click.IntRange(min=0), default=1, show_default=True,
              help="Worker processes writing workbooks (0: the core count).")
@click.option("--form", "form", type=click.Choice(["monitoring"]), default=None,
              help="Issue another form of the same definitions: monitoring, the mid-year 绩效目标执行监控表 "
                   "(template <id>.monitoring).")
@click.option("--month", type=click.IntRange(1, 11), default=None,
              help="With --form monitoring: the month X monitored (1-X月) [default: the definition's "
                   "monitoring: {month: X}].")
def render(definitions, out_dir, per, password, registry, jobs, form, month):
    """Render definitions (YAML files or folders) into locked 自评表 workbooks (or, with --form monitoring,
    their 监控表).

    Valid definitions are rendered even when others fail; the exit code is 1 when any failed.
    """
    from .issue.renderer import render as do_render
    if month is not None and form != "monitoring":
        raise click.UsageError("--month goes with --form monitoring")
    jobs = jobs or os.cpu_count() or 1
    projects, problems = _load(definitions, jobs)
    kinds = None
    if form == "monitoring":
        from .issue.monitoring import monitored
        kinds, chosen = {}, []
        for p in projects:
            try:
                mp, kind = monitored(p, month)
            except XlformError as e:
                click.echo(f"Error: {e}", err=True)
                problems.append(e)
                continue
            kinds[mp.id] = kind
            chosen.append(mp)
        projects = chosen
    if projects:
        reg = _open_registry(registry, create=True)
        try:
            with failing("write the registry", reg.path, "name another with --registry", catch=sqlite3.Error), \
                    failing("write to", out_dir, "choose another folder with -o", catch=OSError):
                issued = do_render(projects, out_dir, per, password, reg, jobs, kinds)
        finally:
            reg.close()
        for workbook in issued:
            for sheet, template_id, version in workbook.sheets:
                click.echo(f"{workbook.file}  {sheet}  {template_id} v{version}")
    sys.exit(PROBLEMS if problems else OK)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(readable=False))
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True,
              help="json: one record per project sheet; csv: one row per indicator.")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the records to this file instead of standard output.")
@click.option("--registry", envvar="XLFORM_REGISTRY", default=None, type=click.Path(dir_okay=False),
              help="The issuer's registry: a path or postgresql://USER:PASSWORD@HOST/DB [env XLFORM_REGISTRY; "
                   "default output/registry.db].")
def read(files, fmt, out, registry):
    """Read returned 自评表 workbooks (files, or folders of them) into checked records, every score recomputed
    by the rules.

    Each problem names its cell (Sheet!F13). Exit 0 when no record has an error, 1 when some has (the
    records are still written), 2 when the command could not run (no registry, an input that cannot be
    opened).
    """
    from .returns.reader import read_return
    files = _inputs(files)
    _require_registry(registry, "read")
    reg = _open_registry(registry)
    try:
        records = [r for f in files for r in read_return(Path(f), reg)]  # a failed file is one error record
    finally:
        reg.close()
    _write_records(records, fmt, out)
    for r in records:
        for p in r.problems:
            if p.severity == "error" and r.sheet is None:
                click.echo(f"Error: {r.file}: {p.message}", err=True)
    errors = sum(len(r.errors) for r in records)
    warnings = sum(len(r.warnings) for r in records)
    click.echo(f"{len(files)} files, {len(records)} records, {errors} errors, {warnings} warnings", err=True)
    sys.exit(PROBLEMS if errors else OK)


@main.command()
@click.argument("dirs", nargs=-1, required=True, type=click.Path(readable=False))
@click.option("--db", "db_url", default=None, help="Collection database: a path, sqlite:///PATH or "
              "postgresql://USER:PASSWORD@HOST/DB [default output/collect.db].")
@click.option("--summary", "summary_path", default="output/summary.xlsx", show_default=True,
              type=click.Path(dir_okay=False), help="The summary workbook (汇总表).")
@click.option("--report", "report_dir", default="output/reports", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the per-department problem reports.")
@click.option("--jobs", type=click.IntRange(min=0), default=0, help="Worker processes [default: the core count].")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--registry", envvar="XLFORM_REGISTRY", default=None, type=click.Path(dir_okay=False),
              help="The issuer's registry: a path or postgresql://USER:PASSWORD@HOST/DB [env XLFORM_REGISTRY; "
                   "default output/registry.db].")
def collect(dirs, db_url, summary_path, report_dir, jobs, quiet, registry):
    """Collect folders of returned workbooks into the database, the summary workbook and the reports.

    Collecting again adds nothing already collected; a newer different file for the same template becomes
    current and the older stays as history. A file rejected because the registry did not know its template is
    read again once it does. Exit 0 when every current return is free of errors and no file was rejected, 1
    otherwise, 2 when the command could not run (no registry, a file that cannot be opened: the others are
    still collected).
    """
    from .collecting.collector import collect as do_collect
    from .collecting.processes import beside
    from .storage.store import Store
    for d in dirs:
        _openable(Path(d))
    where = _database(db_url)
    path = where.shown
    _require_registry(registry, "collect")
    _open_registry(registry).close()  # a registry that cannot be read stops us here, not in every worker
    with failing("open the database", path, "name another with --db"):
        store = Store(where)
    failures, reports = [], []
    try:
        with failing("write the database", path, "run collect again (what is stored is kept), or name another "
                     "database with --db", catch=sqlite3.Error):
            outcome = do_collect(dirs, store, _registry_path(registry), jobs,
                                 progress=not quiet and sys.stderr.isatty(),
                                 exclude={Path(summary_path), *Path(report_dir).glob("*")})
        # the collected files are committed: each output is written, or fails on its own: the summary in a
        # process of its own (its own connection; its 指标 table in one more), the reports meanwhile in this one,
        # idle otherwise (a process of their own held 10-15 MB more at 10,000 returns)
        def own_store(write):
            started, mine = time.monotonic(), Store(where, create=False)
            try:
                return write(mine), time.monotonic() - started
            finally:
                mine.close()

        def summary():   # (xlsxwriter imported in its process: not before the reading)
            from .collecting.summary import write_summary
            with failing("write", summary_path, "choose another file with --summary"):
                return own_store(lambda mine: write_summary(Path(summary_path), mine, outcome.missing))

        def department_reports():
            from .collecting.report import write_reports
            with failing("write the reports to", report_dir, "choose another folder with --report"):
                return own_store(lambda mine: [str(p) for p in write_reports(Path(report_dir), mine,
                                                                             outcome.missing)])
        summary_done = beside(summary)
        done, failed = {}, {}
        try:
            for phase, written in (("reports", department_reports), ("summary", summary_done)):
                try:
                    done[phase] = written()   # (the reports written here, then the summary waited for)
                except CannotRun as e:
                    failed[phase] = e
        except BaseException:   # (interrupted, or a bug): no process is left writing
            summary_done.stop()
            raise
        failures += [failed[phase] for phase in ("summary", "reports") if phase in failed]
        reports = done.get("reports", ([], 0))[0]
        outcome.phases.update({phase: done[phase][1] for phase in ("reports", "summary") if phase in done})
        bad = store.unresolved()
    finally:
        store.close()
    if not failures:
        click.echo(f"database {store.path}, summary {summary_path}, {len(reports) // 2} department reports in "
                   f"{report_dir}", err=True)
    click.echo(outcome.line(), err=True)
    for path, why in outcome.unreadable:
        click.echo(f"Error: cannot read {path}: {why}; check its permissions, then run collect again (the other "
                   "files are collected)", err=True)
    for e in failures:
        click.echo(f"Error: {e}", err=True)
    sys.exit(CANNOT_RUN if failures or outcome.unreadable else PROBLEMS if bad else OK)


@main.command()
@click.option("--db", "db_url", default=None, help="Collection database: a path, sqlite:///PATH or "
              "postgresql://USER:PASSWORD@HOST/DB [default output/collect.db].")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="csv", show_default=True)
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of standard output.")
def export(db_url, fmt, out):
    """Export the current record of every template from the collection database.

    In CSV every text that a spreadsheet would run as a formula (= + - @ tab) is neutralised.
    """

    from .storage.record import record_from_dict
    from .storage.store import Store, exists
    where = _database(db_url)
    path = where.shown
    with failing("read the database", path, "name the one `xlform collect` wrote with --db"):
        if not exists(where):
            raise CannotRun(f"no collection database at {path}; run `xlform collect` first, or name it with --db")
        store = Store(where, create=False)
    try:
        with failing("read the database", path, "name the one `xlform collect` wrote with --db"):
            records = [record_from_dict(d) for d in store.current_records()]
    finally:
        store.close()
    _write_records(records, fmt, out)


@main.command()
@click.argument("args", nargs=-1, required=True)
@click.option("--registry", envvar="XLFORM_REGISTRY", default=None, type=click.Path(dir_okay=False),
              help="The issuer's registry, for ID V1 V2: a path or postgresql://… [default output/registry.db].")
def diff(args, registry):
    """Compare two versions of a template: OLD.yaml NEW.yaml, or ID V1 V2 from the registry.

    Lists indicators added, removed, renamed (only by `was:`) and changed (target, weight, rule, level),
    and funds and project changes. Exit 0 when they are the same, 1 when they differ.
    """
    from .definition.definition import load
    from .errors import DefinitionError
    from .issue.versions import diff as do_diff, table
    if len(args) == 2:
        for a in args:
            _openable(Path(a))
            if not Path(a).is_file():
                raise CannotRun(f"cannot read {a}: it is a folder; give OLD.yaml NEW.yaml, or ID V1 V2")
        loaded, problems = [], []
        for a in args:
            try:
                loaded.append(load(a))
            except DefinitionError as e:
                problems += e.problems
        if problems:
            raise DefinitionError(problems)  # exit 1, as for check and render
        old, new = loaded
    elif len(args) == 3:
        where = _registry_path(registry)
        if not _registry_exists(where):
            raise CannotRun(f"no registry at {where}; {_REGISTRY_FIX} or XLFORM_REGISTRY")
        reg = _open_registry(registry)
        try:
            from .returns.values import read_version   # ("²" passed isdigit, 20 digits no SQLite INTEGER)
            found = [reg.lookup(args[0], v) if v else None for v in map(read_version, args[1:])]
        finally:
            reg.close()
        if None in found:
            raise click.UsageError(f"the registry has no versions {args[1]} and {args[2]} of template {args[0]}")
        old, new = (f["project"] for f in found)
    else:
        raise click.UsageError("give OLD.yaml NEW.yaml, or ID V1 V2")
    changes = do_diff(old, new)
    click.echo(table(changes) if changes else "no differences")
    sys.exit(PROBLEMS if changes else OK)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, readable=False))
@click.option("--to", "to", type=click.Path(dir_okay=False, readable=False), default=None,
              help="The new definition (rendered and registered as the next version); default: the latest "
                   "registered version of each template.")
@click.option("-o", "--output", "out_dir", default="output/migrated", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the migrated workbooks and their reports.")
@click.option("--password", envvar="XLFORM_PASSWORD", default=None, help="Protection password [env XLFORM_PASSWORD].")
@click.option("--registry", envvar="XLFORM_REGISTRY", default=None, type=click.Path(dir_okay=False),
              help="The issuer's registry: a path or postgresql://USER:PASSWORD@HOST/DB [env XLFORM_REGISTRY; "
                   "default output/registry.db].")
def migrate(files, to, out_dir, password, registry):
    """Carry filled returns over to a new version of their template.

    Writes the new version's workbook with every value that still has a place (全年执行数, 实际完成情况,
    实际完成值, 偏差原因) and FILE.migration.csv listing what was carried, dropped (with its value), new and
    blank. A return already on the version wanted is left as it is (nothing written). Exit 1 when a file could
    not be migrated.
    """
    from .definition.definition import load
    from .returns.migration import BLANK, CARRIED, DROPPED, NEW, migrate as do_migrate
    for f in files + ((to,) if to else ()):
        _openable(Path(f))
    target = load(to) if to else None  # a DefinitionError: exit 1, as for check and render
    where = _registry_path(registry)
    path = where.shown
    if not _registry_exists(where):
        raise CannotRun(f"no registry at {path}: migrate needs the registry `xlform render` wrote; name it with "
                        "--registry or XLFORM_REGISTRY")
    reg = _open_registry(registry, create=True)
    failed, written = False, {}  # written: each output of this run and its input, never written twice
    try:
        for f in files:
            try:
                with failing("write to", out_dir, "choose another folder with -o", catch=OSError), \
                        failing("write the registry", path, "name another with --registry", catch=sqlite3.Error):
                    m = do_migrate(Path(f), reg, Path(out_dir), target, password, written)
            except CannotRun:
                raise
            except Exception as e:  # this file only: the others are still migrated
                if os.environ.get("XLFORM_DEBUG"):
                    raise
                failed = True
                detail = str(e) if isinstance(e, XlformError) else f"internal error ({type(e).__name__}: {e})"
                click.echo(f"Error: {f}: {detail.splitlines()[0]}", err=True)
                continue
            if m.error:
                failed = True
                click.echo(f"Error: {f}: {m.error}", err=True)
                continue
            if m.output is None:  # already on the version wanted: nothing to carry, nothing written
                versions = ", ".join(f"{sheet}: {tid} v{a}" for sheet, tid, a, _ in m.sheets)
                click.echo(f"{f}: already on the version wanted ({versions}); nothing written")
                continue
            versions = ", ".join(f"{sheet}: {tid} v{a} -> v{b}" for sheet, tid, a, b in m.sheets)
            click.echo(f"{f} -> {m.output} ({versions}): {m.count(CARRIED)} carried, {m.count(DROPPED)} dropped, "
                       f"{m.count(NEW)} new, {m.count(BLANK)} blank; report {m.output.with_suffix('.migration.csv')}")
    finally:
        reg.close()
    sys.exit(PROBLEMS if failed else OK)


@main.command(name="print")
@click.argument("files", nargs=-1, required=True, type=click.Path(readable=False))
@click.option("-o", "--output", "out_dir", default="output/print", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the PDFs (one per workbook, named after it).")
def print_(files, out_dir):
    """Print blank or returned forms, or the summary workbook, to PDF through LibreOffice.

    Every row is fitted to its text (merged cells too), pages break between 二级 groups, and nothing the
    official form does not show is printed. The workbooks themselves are not changed. FILES may be folders
    of workbooks. Exit 1 when a file is no readable workbook (the others are printed).
    """
    from .printing.printer import print_pdfs
    files = _inputs(files)
    good = []
    for f in files:
        why = _not_a_workbook(f)
        if why:
            click.echo(f"Error: {f}: {why}", err=True)
        else:
            good.append(f)
    for printed in print_pdfs(good, Path(out_dir)) if good else []:
        click.echo(f"{printed.source} -> {printed.pdf}")
    sys.exit(PROBLEMS if len(good) < len(files) else OK)


@main.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(readable=False))
@click.option("-o", "--output", "out_dir", default="definitions", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the definitions (<id>.yaml).")
@click.option("--force", is_flag=True, help="Overwrite definitions that already exist.")
@click.option("--values", is_flag=True, help="Also write what a hand-made 自评表 holds filled in (全年执行数, "
              "实际完成值, 得分 …) beside its definition, as <id>.record.json.")
@click.option("--year", type=click.IntRange(1990, 2100), default=None,
              help="The year of forms and lists that do not say it [default: as found, else this year].")
def import_(files, out_dir, force, values, year):
    """Turn workbooks (files, or folders of them) into definitions: one YAML file per project found.

    Reads filled 绩效目标申报表 and 自评表 issued by xlform (exactly, through their hidden sheet), 自评表 and
    申报表 made by hand in the national layout (labels found wherever they stand), and flat lists (one row
    per indicator with 项目名称, 主管部门, 三级指标, 年度指标值, 分值 … as columns). Prints what it found and
    every problem by file and cell. Exit 0 clean, 1 when an input had errors, could not be read or a
    definition was not overwritten, 2 when the command could not run.
    """
    from .importing.importer import describe, import_files
    files = [str(f) for f in _inputs(files)]
    outcome = import_files(files, out_dir, force, values, year)
    written = {id(item): path for item, path in outcome.written}
    for item in outcome.found:
        path = written.get(id(item))
        click.echo(f"{describe(item)} -> {path if path else 'not written'}")
        for p in item.problems:
            label = "Error" if p.severity == "error" else "Warning"
            click.echo(f"{label}: {item.file}: {p.where}: {p.message}", err=True)
    for p in outcome.failed:
        click.echo(f"Error: {p.where}: {p.message}", err=True)
    for path in outcome.refused:
        click.echo(f"Error: {path} exists; not overwritten (use --force to replace it)", err=True)
    for p in outcome.check:
        click.echo(f"Error: {p}", err=True)
    warnings = sum(p.severity == "warning" for i in outcome.found for p in i.problems)
    click.echo(f"{len(files)} files, {len(outcome.found)} projects found, {len(outcome.written)} definitions "
               f"written to {out_dir}, {outcome.errors} errors, {warnings} warnings", err=True)
    sys.exit(PROBLEMS if outcome.errors else OK)


@main.command()
@click.option("--db", "db_url", default=None, help="Collection database: a path, sqlite:///PATH or "
              "postgresql://USER:PASSWORD@HOST/DB [default output/collect.db].")
@click.option("--registry", envvar="XLFORM_REGISTRY", default=None, type=click.Path(dir_okay=False),
              help="The issuer's registry: a path or postgresql://USER:PASSWORD@HOST/DB [env XLFORM_REGISTRY; "
                   "default output/registry.db].")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every network of this machine, for the LAN).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port (0: any free one).")
@click.option("--admin-password-file", type=click.Path(dir_okay=False), default=None,
              help="A file whose first line is the office dashboard's password [else env XLFORM_ADMIN_PASSWORD].")
@click.option("--uploads", "uploads_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for uploaded files [default: uploads/ beside a SQLite database, else output/uploads].")
@click.option("--max-upload-mb", type=click.FloatRange(min=0.01), default=20, show_default=True, callback=_not_nan,
              help="Largest file accepted, in MB.")
@click.option("--password", envvar="XLFORM_PASSWORD", default=None,
              help="Protection password for blank forms rendered again when the issued file is gone "
                   "[env XLFORM_PASSWORD].")
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True, help="Server threads.")
@click.option("--public-url", default=None, help="The desk's address as departments reach it, carried by the links "
              "the dashboard issues [default http://THIS-MACHINE:PORT].")
@click.option("--deadline", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="The returns' deadline, YYYY-MM-DD, shown on the department pages.")
def serve(db_url, registry, host, port, admin_password_file, uploads_dir, max_upload_mb, password, threads,
          public_url, deadline):
    """Run the desk: departments upload returns through private links and see them checked at once; the
    office follows them on a password-protected dashboard.

    Uses the same registry and collection database as render and collect. Department links: `xlform links`.
    """
    from .desk.app import DeskConfig
    from .desk.server import MB, admin_password, serve as run, uploads_folder
    from .storage.store import Store
    admin = admin_password(admin_password_file)
    where, reg = _database(db_url), _registry_path(registry)
    if not _registry_exists(reg):
        raise CannotRun(f"no registry at {reg}: the desk serves the forms `xlform render` issued; name its "
                        "registry with --registry or XLFORM_REGISTRY")
    _open_registry(registry).close()
    with failing("open the database", where.shown, "name another with --db"):
        Store(where).close()
    folder = uploads_folder(where, uploads_dir)
    with failing("write to", folder, "choose another folder with --uploads", catch=OSError):
        folder.mkdir(parents=True, exist_ok=True)
    if public_url and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", public_url):
        raise click.BadParameter(f"{public_url!r} is not an http:// or https:// address", param_hint="--public-url")
    config = DeskConfig(where, reg, folder, admin, int(max_upload_mb * MB), password, public_url=public_url,
                        deadline=deadline.date() if deadline else None)
    run(config, host, port, threads, lambda line: click.echo(line, err=True))
    sys.exit(OK)


@main.command()
@click.argument("action", type=click.Choice(["list", "issue", "revoke"]))
@click.argument("department", required=False)
@click.option("--db", "db_url", default=None, help="Collection database: a path, sqlite:///PATH or "
              "postgresql://USER:PASSWORD@HOST/DB [default output/collect.db].")
@click.option("--registry", envvar="XLFORM_REGISTRY", default=None, type=click.Path(dir_okay=False),
              help="The issuer's registry: a path or postgresql://USER:PASSWORD@HOST/DB [env XLFORM_REGISTRY; "
                   "default output/registry.db].")
@click.option("--url", "base_url", default=None,
              help="The desk's address as departments reach it [default http://THIS-MACHINE:8080].")
def links(action, department, db_url, registry, base_url):
    """List, issue or revoke the departments' private links to the desk (xlform serve).

    `issue DEPARTMENT` prints the new link once (only a hash of it is kept; an earlier link of the department
    stops working); `revoke DEPARTMENT` ends it; `list` shows each department that has issued forms.
    """
    from datetime import datetime, timezone

    from .desk import auth
    from .desk.server import shown_host
    from .storage.store import Store
    if action != "list" and not department:
        raise click.UsageError(f"give the department: xlform links {action} DEPARTMENT")
    where, reg_where = _database(db_url), _registry_path(registry)
    if not _registry_exists(reg_where):
        raise CannotRun(f"no registry at {reg_where}; {_REGISTRY_FIX} or XLFORM_REGISTRY")
    reg = _open_registry(registry)
    try:
        departments = sorted({d for *_, d in reg.latest_issued() if d})
    finally:
        reg.close()
    if action != "list" and department not in departments:
        raise click.UsageError(f"no forms were issued to {department!r}; departments: {', '.join(departments)}")
    with failing("open the database", where.shown, "name another with --db"):
        store = Store(where)
    try:
        if action == "list":
            issued = {d: at for d, _, at in store.links()}
            for d in departments:
                click.echo(f"{d}\t{'link issued ' + issued[d] if d in issued else 'no link'}")
        elif action == "issue":
            token = auth.new_token()
            store.set_link(department, auth.token_hash(token), datetime.now(timezone.utc).isoformat(timespec="seconds"))
            base = (base_url or f"http://{shown_host('0.0.0.0')}:8080").rstrip("/")
            click.echo(f"{department}\t{base}/d/{token}")
            click.echo("Send this link to the department only; it is not shown again (issue again for a new one).",
                       err=True)
        else:
            if not store.drop_link(department):
                click.echo(f"{department} had no link", err=True)
            else:
                click.echo(f"{department}: link revoked")
    finally:
        store.close()
    sys.exit(OK)


# -- xlform review: the finance bureau's 抽查复核 (xlform/review/) -----------------------------------------------
_DB_HELP = "Collection database: a path, sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB [default output/collect.db]."
_REG_HELP = ("The issuer's registry: a path or postgresql://USER:PASSWORD@HOST/DB [env XLFORM_REGISTRY; default "
             "output/registry.db].")


def _review_store(db_url, create: bool):
    """The collection database and its 复核 tables; it must exist (the sample draws from collected returns)."""
    from .storage.review import Reviews
    from .storage.store import Store, exists
    where = _database(db_url)
    with failing("open the database", where.shown, "name the one `xlform collect` wrote with --db"):
        if not exists(where):
            raise CannotRun(f"no collection database at {where.shown}; run `xlform collect` first, or name it with --db")
        store = Store(where, create=create)
        try:
            return store, Reviews(store, create=create)
        except BaseException:
            store.close()
            raise


def _latest_sample(reviews, store):
    found = reviews.latest_sample()
    if found is None:
        raise CannotRun(f"no sample in {store.path}; draw one first with `xlform review sample`")
    return found


@main.group()
def review():
    """The finance bureau's 抽查复核 of the collected 自评表 returns: draw a sample, render a review worksheet per
    sampled project, read the worksheets back, and report the 偏离度.

    Exit codes as every command: 0 clean, 1 worksheets with errors, 2 the command could not run."""


@review.command("sample")
@click.option("--share", type=click.FloatRange(0, 1), default=0.15, show_default=True, callback=_not_nan,
              help="The share of the returns to review (rounded up).")
@click.option("--min", "least", type=click.IntRange(0, 2**62), default=10, show_default=True,
              help="At least this many (all, where fewer were returned).")
@click.option("--seed", type=click.IntRange(0, 2**62), default=None,
              help="The draw's seed: the same seed and collection give the same sample [default: a new one, printed].")
@click.option("--largest", type=click.IntRange(0, 2**62), default=0, show_default=True,
              help="Always draw the K largest projects by 全年预算数.")
@click.option("--department", "departments", multiple=True, help="Draw from this 主管部门 only (repeat for more).")
@click.option("--db", "db_url", default=None, help=_DB_HELP)
def review_sample(share, least, seed, largest, departments, db_url):
    """Draw the sample from the current, error-free 自评表 returns, stratified by 主管部门; store it and print
    each project drawn with why."""
    import secrets

    from .outputs import now
    from .review.sample import Settings, draw
    seed = secrets.randbelow(10**6) if seed is None else seed
    store, reviews = _review_store(db_url, create=True)
    try:
        population = reviews.population(departments)
        if not population:
            raise CannotRun(f"no current 自评表 returns without errors in {store.path}"
                            + (f" for {', '.join(departments)}" if departments else "") + "; collect returns first")
        settings = Settings(seed, share, least, largest, tuple(departments))
        drawn = draw(population, settings)
        with failing("write the database", store.path, "run the command again", catch=sqlite3.Error):
            number = reviews.save_sample(now(), seed, share, least, largest, departments, len(population), drawn)
    finally:
        store.close()
    for d in drawn:
        click.echo(f"{d['template_id']}	{d['department'] or ''}	{d['project'] or ''}	{d['why']}")
    click.echo(f"sample {number}: {len(drawn)} of {len(population)} returns, seed {seed}", err=True)
    sys.exit(OK)


@review.command("render")
@click.option("-o", "--output", "out_dir", default="output/review", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the review worksheets.")
@click.option("--password", envvar="XLFORM_PASSWORD", default=None, help="Protection password [env XLFORM_PASSWORD].")
@click.option("--db", "db_url", default=None, help=_DB_HELP)
@click.option("--registry", envvar="XLFORM_REGISTRY", default=None, type=click.Path(dir_okay=False), help=_REG_HELP)
def review_render(out_dir, password, db_url, registry):
    """Render one locked review worksheet per project of the newest sample, from the return as stored."""
    from .review.worksheets import render_worksheets, review_project
    _require_registry(registry, "review render")
    store, reviews = _review_store(db_url, create=False)
    try:
        _, drawn = _latest_sample(reviews, store)
        records = reviews.records_of(d["submission_id"] for d in drawn)
    finally:
        store.close()
    reg = _open_registry(registry, create=True)
    try:
        projects = [review_project(records[d["submission_id"]], d["submission_id"], reg) for d in drawn]
        with failing("write", out_dir, "choose another folder with -o"):
            issued = render_worksheets(projects, Path(out_dir), reg, password)
    finally:
        reg.close()
    for i in issued:
        click.echo(str(i.file))
    click.echo(f"{len(issued)} review worksheets in {out_dir}", err=True)
    sys.exit(OK)


@review.command("collect")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(readable=False))
@click.option("--db", "db_url", default=None, help=_DB_HELP)
@click.option("--registry", envvar="XLFORM_REGISTRY", default=None, type=click.Path(dir_okay=False), help=_REG_HELP)
def review_collect(dirs, db_url, registry):
    """Read filled review worksheets (files or folders) back into the database; every problem by its cell.
    Exit 1 when a worksheet has errors."""
    from .review.collect import collect as collect_reviews
    for d in dirs:
        _openable(Path(d))
    _require_registry(registry, "review collect")
    store, reviews = _review_store(db_url, create=True)
    reg = _open_registry(registry)
    try:
        with failing("write the database", store.path, "run the command again (what is stored is kept)",
                     catch=sqlite3.Error):
            outcome = collect_reviews(dirs, reviews, reg, exclude=store.files())
    finally:
        reg.close()
        store.close()
    for r in outcome.stored:
        for p in r.problems:
            click.echo(f"{'Error' if p.severity == 'error' else 'Warning'}: {Path(r.file).name}: {p.where}: "
                       f"{p.message}", err=True)
    for path, why in outcome.unreadable:
        click.echo(f"Error: cannot read {path}: {why}; check its permissions, then run review collect again", err=True)
    click.echo(outcome.line(), err=True)
    sys.exit(CANNOT_RUN if outcome.unreadable else PROBLEMS if outcome.errors else OK)


@review.command("report")
@click.option("-o", "--output", "out_dir", default="output/review-report", show_default=True,
              type=click.Path(file_okay=False), help="Folder for 复核报告.xlsx and 复核报告.html.")
@click.option("--db", "db_url", default=None, help=_DB_HELP)
def review_report(out_dir, db_url):
    """The 复核 report: projects ranked by |偏离度|, each indicator's 自评 and 复核 with its 扣分原因, and the
    counts per class, per 扣分原因 and per 主管部门."""
    from .kinds.forms import form_kind
    from .review.report import summarise, write_report
    from .review.worksheets import KIND
    store, reviews = _review_store(db_url, create=False)
    try:
        found = reviews.latest_sample()
        summary = summarise(reviews.current(), form_kind(KIND).profile, found[1] if found else [])
    finally:
        store.close()
    with failing("write", out_dir, "choose another folder with -o"):
        paths = write_report(Path(out_dir), summary)
    for p in paths:
        click.echo(str(p))
    click.echo(f"{len(summary.ranked)} projects reviewed, {len(summary.unreviewed)} drawn and not yet reviewed",
               err=True)
    sys.exit(OK)


if __name__ == "__main__":  # pragma: no cover
    main()
