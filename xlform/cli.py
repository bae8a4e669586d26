"""The `xlform` command: a thin click layer; the library raises, only this turns errors into exit codes."""
from __future__ import annotations

import sys

import click

from . import __version__

_DEFS = click.argument("definitions", nargs=-1, required=True,
                       type=click.Path(exists=True, dir_okay=True, readable=True))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xlform")
def main():
    """xlform: 项目支出绩效自评表 (project expenditure performance self-evaluation forms) from YAML
    definitions to locked, self-scoring Excel workbooks."""


def _load(definitions, jobs: int = 1):
    from .definition import load_many
    projects, problems = load_many(definitions, jobs)
    for p in problems:
        click.echo(f"Error: {p}", err=True)
    return projects, problems


def _warn_without_registry(registry):
    """Reading without the issuer's registry makes every template unknown: say so once, up front."""
    from pathlib import Path

    from .registry import default_path
    path = Path(registry) if registry else default_path()
    if not path.exists():
        click.echo(f"Warning: no registry at {path}: every template will be unknown (use --registry or "
                   "XLFORM_REGISTRY to name the one `xlform render` wrote)", err=True)


def _write_records(records, fmt: str, out: str | None):
    """Records as JSON or CSV (with a BOM, so that Excel reads the Chinese), to a file or standard output."""
    from .record import to_csv, to_json
    text = to_json(records) if fmt == "json" else to_csv(records)
    if out:
        from pathlib import Path

        from .renderer import atomic_write
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
    sys.exit(1 if problems else 0)


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
              help="The issuer's registry (SQLite) [env XLFORM_REGISTRY; default output/registry.db].")
@click.option("--jobs", type=click.IntRange(min=0), default=1, show_default=True,
              help="Worker processes writing workbooks (0: the core count).")
def render(definitions, out_dir, per, password, registry, jobs):
    """Render definitions (YAML files or folders) into locked 自评表 workbooks.

    Valid definitions are rendered even when others fail; the exit code is 1 when any failed.
    """
    from .errors import XlformError
    from .registry import Registry
    from .renderer import render as do_render
    import os
    jobs = jobs or os.cpu_count() or 1
    projects, problems = _load(definitions, jobs)
    if projects:
        reg = Registry(registry)
        try:
            for issued in do_render(projects, out_dir, per, password, reg, jobs):
                for sheet, template_id, version in issued.sheets:
                    click.echo(f"{issued.file}  {sheet}  {template_id} v{version}")
        except XlformError as e:
            raise click.ClickException(str(e))
        finally:
            reg.close()
    sys.exit(1 if problems else 0)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True,
              help="json: one record per project sheet; csv: one row per indicator.")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the records to this file instead of standard output.")
@click.option("--registry", envvar="XLFORM_REGISTRY", default=None, type=click.Path(dir_okay=False),
              help="The issuer's registry [env XLFORM_REGISTRY; default output/registry.db].")
def read(files, fmt, out, registry):
    """Read returned 自评表 workbooks into checked records, every score recomputed by the rules.

    Each problem names its cell (Sheet!F13). Exit 0 when no record has an error, 1 when some has (the
    records are still written), 2 when the command could not run.
    """
    from pathlib import Path

    from .reader import read_file
    from .registry import Registry
    for f in files:
        if not Path(f).is_file():
            raise click.UsageError(f"no such file: {f}")
    _warn_without_registry(registry)
    reg = Registry(registry, create=False)
    try:
        records = [r for f in files for r in read_file(Path(f), reg)]
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
    sys.exit(1 if errors else 0)


@main.command()
@click.argument("dirs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--db", "db_url", default=None, help="Collection database: a path or sqlite:///PATH "
              "[default output/collect.db].")
@click.option("--summary", "summary_path", default="output/summary.xlsx", show_default=True,
              type=click.Path(dir_okay=False), help="The summary workbook (汇总表).")
@click.option("--report", "report_dir", default="output/reports", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the per-department problem reports.")
@click.option("--jobs", type=click.IntRange(min=0), default=0, help="Worker processes [default: the core count].")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--registry", envvar="XLFORM_REGISTRY", default=None, type=click.Path(dir_okay=False),
              help="The issuer's registry [env XLFORM_REGISTRY; default output/registry.db].")
def collect(dirs, db_url, summary_path, report_dir, jobs, quiet, registry):
    """Collect folders of returned workbooks into the database, the summary workbook and the reports.

    Collecting again adds nothing already collected; a newer different file for the same template becomes
    current and the older stays as history. Exit 0 when every current return is free of errors and no file
    was rejected, 1 otherwise, 2 when the command could not run.
    """
    from pathlib import Path

    from .collector import collect as do_collect
    from .registry import default_path
    from .report import write_reports
    from .store import Store, db_path
    from .summary import write_summary
    try:
        store = Store(db_path(db_url))
    except ValueError as e:
        raise click.UsageError(str(e))
    from .errors import XlformError
    _warn_without_registry(registry)
    try:
        try:
            outcome = do_collect(dirs, store, registry or default_path(), jobs,
                                 progress=not quiet and sys.stderr.isatty(),
                                 exclude={Path(summary_path), *Path(report_dir).glob("*")})
        except XlformError as e:
            raise click.ClickException(str(e))
        write_summary(Path(summary_path), store, outcome.missing)
        reports = write_reports(Path(report_dir), store, outcome.missing)
        bad = store.rows("SELECT COUNT(*) FROM submissions WHERE status='rejected' OR "
                         "(status='current' AND errors > 0)")[0][0]
    finally:
        store.close()
    click.echo(f"database {store.path}, summary {summary_path}, {len(reports) // 2} department reports in "
               f"{report_dir}", err=True)
    click.echo(outcome.line(), err=True)
    sys.exit(1 if bad else 0)


@main.command()
@click.option("--db", "db_url", default=None, help="Collection database [default output/collect.db].")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="csv", show_default=True)
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of standard output.")
def export(db_url, fmt, out):
    """Export the current record of every template from the collection database.

    In CSV every text that a spreadsheet would run as a formula (= + - @ tab) is neutralised.
    """

    from .record import record_from_dict
    from .store import Store, db_path
    try:
        store = Store(db_path(db_url), create=False)
    except (ValueError, FileNotFoundError) as e:
        raise click.UsageError(str(e))
    try:
        records = [record_from_dict(d) for d in store.current_records()]
    finally:
        store.close()
    _write_records(records, fmt, out)


@main.command()
@click.argument("args", nargs=-1, required=True)
@click.option("--registry", envvar="XLFORM_REGISTRY", default=None, type=click.Path(dir_okay=False),
              help="The issuer's registry, for ID V1 V2 [default output/registry.db].")
def diff(args, registry):
    """Compare two versions of a template: OLD.yaml NEW.yaml, or ID V1 V2 from the registry.

    Lists indicators added, removed, renamed (only by `was:`) and changed (target, weight, rule, level),
    and funds and project changes. Exit 0 when they are the same, 1 when they differ.
    """
    from .definition import from_canonical, load
    from .errors import DefinitionError
    from .registry import Registry
    from .versions import diff as do_diff, table
    if len(args) == 2:
        try:
            old, new = load(args[0]), load(args[1])
        except DefinitionError as e:
            for p in e.problems:
                click.echo(f"Error: {p}", err=True)
            sys.exit(2)
        except OSError as e:
            raise click.UsageError(str(e))
    elif len(args) == 3:
        reg = Registry(registry, create=False)
        try:
            found = [reg.lookup(args[0], int(v)) if v.isdigit() else None for v in args[1:]]
        finally:
            reg.close()
        if None in found:
            raise click.UsageError(f"the registry has no versions {args[1]} and {args[2]} of template {args[0]}")
        old, new = (from_canonical(f["definition"]) for f in found)
    else:
        raise click.UsageError("give OLD.yaml NEW.yaml, or ID V1 V2")
    changes = do_diff(old, new)
    click.echo(table(changes) if changes else "no differences")
    sys.exit(1 if changes else 0)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "to", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The new definition (rendered and registered as the next version); default: the latest "
                   "registered version of each template.")
@click.option("-o", "--output", "out_dir", default="output/migrated", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the migrated workbooks and their reports.")
@click.option("--password", envvar="XLFORM_PASSWORD", default=None, help="Protection password [env XLFORM_PASSWORD].")
@click.option("--registry", envvar="XLFORM_REGISTRY", default=None, type=click.Path(dir_okay=False),
              help="The issuer's registry [env XLFORM_REGISTRY; default output/registry.db].")
def migrate(files, to, out_dir, password, registry):
    """Carry filled returns over to a new version of their template.

    Writes the new version's workbook with every value that still has a place (全年执行数, 实际完成情况,
    实际完成值, 偏差原因) and FILE.migration.csv listing what was carried, dropped (with its value), new and
    blank. Exit 1 when a file could not be migrated.
    """
    from pathlib import Path

    from .definition import load
    from .errors import DefinitionError, XlformError
    from .migration import BLANK, CARRIED, DROPPED, NEW, migrate as do_migrate
    from .registry import Registry
    try:
        target = load(to) if to else None
    except DefinitionError as e:
        for p in e.problems:
            click.echo(f"Error: {p}", err=True)
        sys.exit(1)
    reg = Registry(registry)
    failed = False
    try:
        for f in files:
            try:
                m = do_migrate(Path(f), reg, Path(out_dir), target, password)
            except XlformError as e:
                m = None
                click.echo(f"Error: {e}", err=True)
            if m is None or m.error:
                failed = True
                if m is not None:
                    click.echo(f"Error: {f}: {m.error}", err=True)
                continue
            versions = ", ".join(f"{sheet}: {tid} v{a} -> v{b}" for sheet, tid, a, b in m.sheets)
            click.echo(f"{f} -> {m.output} ({versions}): {m.count(CARRIED)} carried, {m.count(DROPPED)} dropped, "
                       f"{m.count(NEW)} new, {m.count(BLANK)} blank; report {m.output.with_suffix('.migration.csv')}")
    finally:
        reg.close()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
