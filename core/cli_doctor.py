"""`glassbox doctor`: check the database, the models and the data folder, and the ways back
from a damaged database (`--restore [BACKUP]`, `--recover`), plus `--backup` now.

Also the check that every CLI command which opens the database runs first (`open_checks`):
a damaged file gets a message that says what to do, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from core.cli_shape import command, print_json, warn
from core.config import database_path
from core.doctor import DoctorReport, age_text, check_everything, size_text
from core.store.backup import BackupInfo, backup_if_due, make_backup
from core.store.health import DatabaseDamaged, require_healthy
from core.store.repair import RepairResult, recover_database, restore_backup

WAYS_BACK = ("`glassbox doctor` lists the backups; `glassbox doctor --restore` puts the newest "
             "good one back, `glassbox doctor --recover` copies what can still be read into a "
             "new file. Either way the damaged file is kept aside.")
_MARKS = {"ok": "ok     ", "warning": "warning", "problem": "PROBLEM"}


def add_parser(sub: Any) -> None:
    doctor = sub.add_parser(
        "doctor", help="check the database, models and data folder; restore or recover a "
        "damaged database",
        description="Check the database (quick_check, schema version), the model library "
        "(files present, GGUF headers valid) and the data folder (writable, free space, "
        "backups). Exits 1 when something is wrong.")
    action = doctor.add_mutually_exclusive_group()
    action.add_argument("--backup", action="store_true", help="make a backup now")
    action.add_argument("--restore", nargs="?", const="", metavar="BACKUP",
                        help="put a backup in place of the database (default: the newest "
                        "that passes its check); the current file is kept aside")
    action.add_argument("--recover", action="store_true",
                        help="copy what can still be read into a new database; the damaged "
                        "file is kept aside")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.set_defaults(func=run)


@command
def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    db = database_path()
    if args.backup:
        require_healthy(db)  # a damaged copy must not push a good one out of the rotation
        import apsw

        conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READWRITE)
        try:
            info = make_backup(conn, db, "manual")
        finally:
            conn.close()
        return _print(args, out, asdict(info),
                      f"Backup written: {info.path} ({size_text(info.size)})")
    if args.restore is not None:
        result = restore_backup(db, args.restore or None)
        return _print_repair(args, out, result)
    if args.recover:
        return _print_repair(args, out, recover_database(db))
    report = check_everything()
    if args.json:
        print_json(out, asdict(report) | {"ok": report.ok})
    else:
        out.write(report_text(report) + "\n")
    return 0 if report.ok else 1


def open_checks(db: Path | None = None, err: TextIO | None = None) -> None:
    """Before a command opens the database: quick_check it (raising a StoreError that says
    what to do) and make the day's backup when it is due (a failure is only a warning)."""
    db = db or database_path()
    try:
        require_healthy(db)
    except DatabaseDamaged as exc:
        raise DatabaseDamaged(f"{exc} {WAYS_BACK}") from None
    outcome = backup_if_due(db)
    if outcome.warning:
        warn(err or sys.stderr, outcome.warning)


def damaged_message(exc: BaseException) -> str:
    """For damage that only showed while a command ran (quick_check cannot see every kind)."""
    return (f"The database {database_path()} is damaged ({exc}). {WAYS_BACK}")


def report_text(report: DoctorReport) -> str:
    lines = [f"Data folder: {report.data_home}"]
    area = ""
    for finding in report.findings:
        if finding.area != area:
            area = finding.area
            lines.append(f"{area.capitalize()}:")
        lines.append(f"  {_MARKS[finding.level]}  {finding.text}")
        if finding.area == "database" and report.database.problems:
            lines += [f"             {p}" for p in report.database.problems[1:6]]
            if len(report.database.problems) > 6:
                lines.append(f"             ... {len(report.database.problems) - 6} more")
        if finding.area == "backups":
            lines += [f"             {backup_line(b)}" for b in report.backups]
    problems = report.problems
    if problems:
        lines.append(f"{len(problems)} problem(s) found.")
        if report.database.repairable:
            lines.append(WAYS_BACK)
    else:
        lines.append("Everything looks fine.")
    return "\n".join(lines)


def backup_line(info: BackupInfo) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created_at))
    return f"{info.name}  {size_text(info.size):>9}  {when} ({age_text(info.created_at)} ago)"


def _print_repair(args: argparse.Namespace, out: TextIO, result: RepairResult) -> int:
    lines = [result.message]
    for table in result.tables:
        if table.copied or table.unreadable or table.rejected:
            extra = (f", {table.unreadable} unreadable part(s)" if table.unreadable else "") + \
                (f", {table.rejected} damaged row(s) left out" if table.rejected else "")
            lines.append(f"  {table.table}: {table.copied} row(s){extra}")
    return _print(args, out, asdict(result), "\n".join(lines))


def _print(args: argparse.Namespace, out: TextIO, data: dict[str, Any], text: str) -> int:
    if args.json:
        print_json(out, data)
    else:
        out.write(text + "\n")
    return 0

