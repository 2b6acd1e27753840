"""The instance folder and its files are private to Kassa's account, whatever the umask."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugins.servers import ROOT

FIRST_RUN = [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"]


def first_run(instance: Path) -> subprocess.CompletedProcess:
    """`flask db upgrade` on a SQLite database in the folder, under a permissive umask."""
    env = {**os.environ, "KASSA_INSTANCE_PATH": str(instance)}
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        env.pop(name, None)
    return subprocess.run(
        FIRST_RUN, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, umask=0o022
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.multiprocess
def test_first_run_creates_a_private_folder_and_private_files(tmp_path):
    instance = tmp_path / "instance"
    finished = first_run(instance)
    assert finished.returncode == 0, finished.stderr
    assert mode(instance) == 0o700
    for name in ("kassa.db", "huey.db", "secret_key"):
        assert mode(instance / name) == 0o600, name
    for extra in instance.glob("*.db-*"):  # SQLite's WAL and shared-memory files
        assert mode(extra) & 0o077 == 0, extra
    assert "open to other accounts" not in finished.stderr


@pytest.mark.multiprocess
def test_a_readable_folder_and_database_are_tightened_with_a_warning(tmp_path):
    instance = tmp_path / "instance"
    assert first_run(instance).returncode == 0
    instance.chmod(0o755)
    (instance / "kassa.db").chmod(0o644)
    (instance / "secret_key").chmod(0o644)

    finished = first_run(instance)

    assert finished.returncode == 0, finished.stderr
    assert mode(instance) == 0o700
    assert mode(instance / "kassa.db") == 0o600
    assert mode(instance / "secret_key") == 0o600
    assert f"{instance} had mode 755, open to other accounts; it is now 700" in finished.stderr
    assert f"{instance / 'kassa.db'} had mode 644" in finished.stderr
