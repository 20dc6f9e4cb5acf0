"""The README's worked example for data managers, run as written: its code block is parsed and every command run in
one shell from the project root, on a database with the demo loaded as `make run` leaves it."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from app.db import upgrade
from tests import conftest
from tests.conftest import ROOT

MARK = "@@gridtriage-readme"


@dataclass(frozen=True)
class Step:
    command: str
    expected: list[str]  # the output lines the README shows


def worked_example(readme: str) -> list[Step]:
    """The `$ command` lines of the block after "Worked example", each with the output lines shown under it."""
    block = re.search(r"^Worked example.*?\n```\n(.*?)\n```", readme, re.MULTILINE | re.DOTALL)
    assert block, "the README has no worked example block"
    steps: list[Step] = []
    for line in block.group(1).splitlines():
        if line.startswith("$ "):
            steps.append(Step(command=line[2:], expected=[]))
        elif line.strip():
            steps[-1].expected.append(line)
    return steps


def run_in_one_shell(steps: list[Step], *, env: dict[str, str]) -> list[tuple[int, list[str]]]:
    """Each command's exit status and output lines (stdout and stderr), run one after another in one bash."""
    script = "".join(f"echo '{MARK} {i}'\n{s.command} 2>&1\necho \"{MARK} rc $?\"\n" for i, s in enumerate(steps))
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    results: list[tuple[int, list[str]]] = []
    lines: list[str] = []
    for line in done.stdout.splitlines():
        if line.startswith(f"{MARK} rc "):
            results.append((int(line.rsplit(" ", 1)[1]), lines))
        elif line.startswith(MARK):
            lines = []
        else:
            lines.append(line)
    assert len(results) == len(steps), done.stdout + done.stderr
    return results


@pytest.fixture(scope="module")
def demo_database(pg_server: conftest.TestServer) -> Iterator[str]:
    """A migrated database with the demo loaded by its command, as `make run` leaves it."""
    url = pg_server.create_database("gt_readme")
    upgrade(url)
    env = {**os.environ, "DATABASE_URL": url}
    loaded = subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", "load-demo"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert loaded.returncode == 0, loaded.stderr
    yield url
    pg_server.drop_database(url)


def region_people(url: str) -> dict[str, float]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("""SELECT r.name, coalesce(sum(p.population), 0) FROM region r
                               LEFT JOIN facility f ON f.region_id = r.id
                               LEFT JOIN facility_population_latest p ON p.facility_id = f.id
                               GROUP BY r.name""").fetchall()
    return {str(name): float(people) for name, people in rows}


def test_the_readme_worked_example_runs_as_written_and_leaves_the_demo_alone(demo_database):
    steps = worked_example((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(steps) >= 8 and any("--region" in s.command for s in steps)
    before = region_people(demo_database)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {"DATABASE_URL": demo_database}
    for step, (status, output) in zip(steps, run_in_one_shell(steps, env=env), strict=True):
        shown = [line for line in step.expected if not line.startswith("#")]
        missing = [line for line in shown if line not in output]
        assert not missing, f"{step.command}\nREADME shows, not printed: {missing}\nprinted: {output}"
        # Every warning and error printed is in the README, so the example hides nothing.
        unshown = [line for line in output if line.startswith(("warning:", "error:")) and line not in shown]
        assert not unshown, f"{step.command}\nprinted, not in the README: {unshown}"
        fails = any(line.startswith("error:") for line in shown)
        assert status == (1 if fails else 0), f"{step.command}: exit {status}\n{output}"
    after = region_people(demo_database)
    # The demo's numbers are untouched by another region's imports (they used to become 0, "conserved").
    assert after["default"] == pytest.approx(before["default"]) and before["default"] > 1_000_000
    assert after["ukraine"] == pytest.approx(36_610_222, abs=0.5)
