"""`glassbox doctor` and the window's "Check database…": is everything Glassbox keeps whole?

One report, as plain data, over the database (quick_check, schema version, a newer
Glassbox's file), the model library (each file present, its GGUF header valid) and the data
folder (writable, free space, backups with their sizes). The CLI prints it; the window lists it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from core.config import data_home, database_path
from core.errors import GlassboxError
from core.store.backup import BackupInfo, backup_dir, list_backups
from core.store.health import DatabaseHealth, check_database

LEVELS = ("ok", "warning", "problem")
# Below this much free space a write may fail: SQLite needs room for the WAL and a backup.
LOW_SPACE = 200 * 1000 * 1000
TIGHT_SPACE = 1000 * 1000 * 1000


@dataclass(frozen=True)
class Finding:
    area: str  # 'database', 'models', 'data folder', 'backups'
    level: str  # one of LEVELS
    text: str


@dataclass(frozen=True)
class DoctorReport:
    data_home: str
    database: DatabaseHealth
    backups: tuple[BackupInfo, ...]
    findings: tuple[Finding, ...]
    free_bytes: int | None = None

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "problem"]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_everything(models: bool = True) -> DoctorReport:
    """Check the database, the model library (unless `models` is False) and the data folder.
    Reads only; a full check of a typical data folder takes well under a second."""
    home = data_home()
    db = database_path()
    health = check_database(db)
    backups = tuple(list_backups(db))
    findings = [_database_finding(health)]
    if models:
        findings += _model_findings()
    free = _free_bytes(home)
    findings += _folder_findings(home, free)
    findings += _backup_findings(db, health, backups)
    return DoctorReport(str(home), health, backups, tuple(findings), free)


def database_report() -> DoctorReport:
    """The database and its backups only: what the window checks at start."""
    return check_everything(models=False)


def _database_finding(health: DatabaseHealth) -> Finding:
    if health.state == "ok":
        return Finding("database", "ok", f"{Path(health.path).name}: {size_text(health.size)}, "
                       f"schema {health.schema_version}, quick check passed")
    if health.state == "new":
        return Finding("database", "ok", health.message)
    if health.state == "damaged":
        found = f"{len(health.problems)} problems" if len(health.problems) > 1 else "a problem"
        first = health.problems[0] if health.problems else "unreadable"
        return Finding("database", "problem", f"{Path(health.path).name}: {size_text(health.size)}"
                       f", damaged: quick_check found {found} ({first})")
    return Finding("database", "problem", health.message)


def _model_findings() -> list[Finding]:
    from core.gguf.reader import read_header
    from core.models.registry import ModelRegistry

    try:
        entries = ModelRegistry().models()
    except (GlassboxError, OSError, ValueError) as exc:
        return [Finding("models", "problem", f"The model library cannot be read: {exc}")]
    if not entries:
        return [Finding("models", "warning", "The model library is empty.")]
    findings = []
    for entry in entries:
        if entry.missing:
            findings.append(Finding("models", "problem", f"{entry.name}: file missing "
                                    f"({entry.path})"))
            continue
        if not Path(entry.path).is_file():  # a bundled model assembled on first use
            findings.append(Finding("models", "ok", f"{entry.name}: made when first used"))
            continue
        try:
            header = read_header(entry.path)
        except GlassboxError as exc:
            findings.append(Finding("models", "problem", f"{entry.name}: {exc}"))
            continue
        findings.append(Finding("models", "ok", f"{entry.name}: {size_text(header.actual_size)}"
                                f", GGUF v{header.version} header valid"))
    return findings


def _free_bytes(home: Path) -> int | None:
    try:
        return shutil.disk_usage(home).free
    except OSError:
        return None


def _folder_findings(home: Path, free: int | None) -> list[Finding]:
    findings = []
    try:
        with tempfile.NamedTemporaryFile(dir=home, prefix=".doctor-"):
            pass
        findings.append(Finding("data folder", "ok", f"{home} is writable"))
    except OSError as exc:
        findings.append(Finding("data folder", "problem", f"{home} is not writable "
                                f"({exc.strerror or exc}): nothing can be saved."))
    if free is None:
        findings.append(Finding("data folder", "warning", "The free disk space is unknown."))
    elif free < LOW_SPACE:
        findings.append(Finding("data folder", "problem", f"Only {size_text(free)} free on "
                                "the disk: chats may fail to save. Free some space."))
    elif free < TIGHT_SPACE:
        findings.append(Finding("data folder", "warning", f"{size_text(free)} free on the "
                                "disk: little room for backups."))
    else:
        findings.append(Finding("data folder", "ok", f"{size_text(free)} free on the disk"))
    return findings


def _backup_findings(db: Path, health: DatabaseHealth,
                     backups: tuple[BackupInfo, ...]) -> list[Finding]:
    folder = backup_dir(db)
    if folder.exists() and not folder.is_dir():
        return [Finding("backups", "problem", f"{folder} is a file, so no backup can be "
                        "written. Move it aside.")]
    if not backups:
        level = "ok" if health.state == "new" else "warning"
        return [Finding("backups", level, "No backups yet: one is made when Glassbox starts "
                        "(at most once a day) and before every update of the database.")]
    newest = backups[0]
    total = sum(b.size for b in backups)
    return [Finding("backups", "ok", f"{len(backups)} backup(s), {size_text(total)} in all; "
                    f"the newest is {age_text(newest.created_at)} old")]


def size_text(n: int) -> str:
    """Bytes as a person reads them (SI units, as the window shows them): 512 B, 3.4 kB,
    12.0 MB, 1.2 GB."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - the loop returns at GB


def age_text(timestamp: float, now: float | None = None) -> str:
    seconds = max(0.0, (now if now is not None else time.time()) - timestamp)
    if seconds < 60:
        return "less than a minute"
    if seconds < 90:
        return "a minute"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} minutes"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} hours"
    return f"{round(seconds / 86400)} days"
