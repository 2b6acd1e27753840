"""How long a `flask --app app …` command takes, as a person runs it; not part of the suite.

    .venv/bin/python bench/cli.py                        # 15 runs of each command
    .venv/bin/python bench/cli.py --against /tmp/before  # alternate with another checkout
    .venv/bin/python bench/cli.py --imports              # what the imports cost, by package

Each run is a new process in a fresh instance folder (SQLite, sandbox; `db upgrade` first).
The machine is shared and its speed moves, so runs of the two trees alternate and each side
reports its median wall time and its median CPU time (user + system), which moves less.
"""

import argparse
import collections
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLASK = [sys.executable, "-m", "flask", "--app", "app"]
COMMANDS = (["providers", "list"], ["services", "list", "--json"], ["--help"])
BASELINE = [sys.executable, "-c", "import flask, sqlalchemy.orm"]


def timed(command: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    """One run: (wall seconds, CPU seconds of the child, its stderr)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    finished = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if finished.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} failed in {cwd}:\n{finished.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, finished.stderr


def environment(instance: str) -> dict:
    env = {**os.environ, "KASSA_INSTANCE_PATH": instance}
    for name in ("DATABASE_URL", "REDIS_URL", "STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY"):
        env.pop(name, None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as an operator's shell has it
    return env


def compare(trees: list[Path], runs: int) -> None:
    env = environment(tempfile.mkdtemp(prefix="kassa-bench-cli-"))
    for tree in trees:
        timed([*FLASK, "db", "upgrade"], tree, env)  # also writes the bytecode once
    rows = [("python -c 'import flask, sqlalchemy.orm'", BASELINE, [ROOT])]
    rows += [(" ".join(command), [*FLASK, *command], trees) for command in COMMANDS]
    for label, command, where in rows:
        samples = {tree: [] for tree in where}
        printed = {}
        for _ in range(runs):
            for tree in where:
                wall, cpu, stderr = timed(command, tree, env)
                samples[tree].append((wall, cpu))
                printed[tree] = stderr.strip()
        for tree in where:
            walls, cpus = zip(*samples[tree], strict=True)
            line = printed[tree].splitlines()[0][:60] if printed[tree] else "nothing"
            print(
                f"{label:42} {tree.name:12} wall {statistics.median(walls):5.2f} s  "
                f"cpu {statistics.median(cpus):5.2f} s  stderr: {line}"
            )


def imports() -> None:
    """Self import time per top-level package of one `providers list`, largest first."""
    env = environment(tempfile.mkdtemp(prefix="kassa-bench-cli-"))
    timed([*FLASK, "db", "upgrade"], ROOT, env)
    command = [sys.executable, "-X", "importtime", "-m", "flask", "--app", "app"]
    finished = subprocess.run(
        [*command, "providers", "list"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    spent = collections.Counter()
    modules = 0
    for line in finished.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \| *(\S+)", line)
        if match:
            modules += 1
            spent[match[2].split(".")[0]] += int(match[1])
    print(f"{modules} modules, {sum(spent.values()) / 1e6:.2f} s of imports (self time)")
    for package, microseconds in spent.most_common(20):
        print(f"  {package:24} {microseconds / 1000:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--against", type=Path, help="another checkout of Kassa to alternate with")
    parser.add_argument("--imports", action="store_true", help="import time by package")
    args = parser.parse_args()
    if args.imports:
        imports()
        return
    compare([ROOT, *([args.against.resolve()] if args.against else [])], args.runs)


if __name__ == "__main__":
    main()
