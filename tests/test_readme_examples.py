"""Every `scaling plan`, `scaling laws`, `scaling flops` and `scaling compare` example shown in
README.md prints what it printed when the golden outputs under tests/golden/ were captured.

The commands are read from the README itself (the ``$ scaling ...`` console lines, with their
backslash continuations), so an example added there is pinned as soon as its golden file is
written (``SCALING_UPDATE_GOLDEN=1 python -m pytest tests/test_readme_examples.py``). A few
extra commands (EXTRA below: the architecture comparisons of docs/architectures.md and the
Hyena size query) are pinned the same way. Examples that need files a fresh clone does not have
(``../shared``, a ``fit.json`` of the user's) are not collected (so a clean run skips nothing); a test
keeps their number small. The CLI runs in-process.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shlex
import warnings
from pathlib import Path

import pytest

from scaling.cli import main

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
COMMANDS = ("plan", "laws", "flops", "compare")

EXTRA = [
    "scaling plan --params 1e9 --mixer hyena --context 2048 --convention palm",
    "scaling compare data/arch-cpu-attention-fit-approach3.json data/arch-cpu-hyena-fit-approach3.json "
    "--flops 1e13 --mixer-a attention --mixer-b hyena --context 1024 --vocab 256 --convention palm",
    "scaling compare frantar-2024 frantar-2024 --sparsity-b 0.75 --target-loss 2.5",
    "scaling compare data/sparse-cpu-fit.json data/sparse-cpu-fit.json --sparsity-b 0.75 --flops 1e13",
]


def readme_commands(text: str) -> list[str]:
    """The `$ scaling <plan|laws|flops|compare> ...` lines of README.md, continuations joined and
    trailing `# comments` dropped."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line.startswith("$ scaling "):
            continue
        cmd = line[2:]
        while cmd.endswith("\\") and i < len(lines):
            cmd = cmd[:-1].rstrip() + " " + lines[i].strip()
            i += 1
        cmd = re.sub(r"\s+#.*$", "", cmd).strip()
        if cmd.split()[1] in COMMANDS:
            out.append(cmd)
    return out


def _missing_file(argv: list[str]) -> str | None:
    for a in argv:
        if a.startswith("../") or (a.endswith((".json", ".csv")) and not (ROOT / a).exists()):
            return a
    return None


def _name(cmd: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", cmd[len("scaling ") :]).strip("_")[:60]
    return f"{slug}-{hashlib.sha1(cmd.encode()).hexdigest()[:8]}.txt"


def run_cli(cmd: str) -> str:
    argv = shlex.split(cmd)[1:]
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            code = main(argv)
    finally:
        os.chdir(cwd)
    return f"$ {cmd}\nexit {code}\n--- stdout\n{out.getvalue()}--- stderr\n{err.getvalue()}"


CASES = readme_commands((ROOT / "README.md").read_text()) + EXTRA
NEED_FILES = [c for c in CASES if _missing_file(shlex.split(c)[1:])]
RUNNABLE = [c for c in CASES if c not in NEED_FILES]


def test_readme_has_examples():
    cmds = readme_commands((ROOT / "README.md").read_text())
    assert len(cmds) >= 15 and any(c.startswith("scaling laws") for c in cmds)


def test_few_examples_need_a_users_files():
    # today one: `scaling plan 1e22 --law fit.json`, the fit the README's pipeline writes
    assert len(NEED_FILES) <= 2, NEED_FILES


@pytest.mark.parametrize("cmd", RUNNABLE)
def test_example_prints_the_same(cmd):
    got = run_cli(cmd)
    path = GOLDEN / _name(cmd)
    if os.environ.get("SCALING_UPDATE_GOLDEN") or not path.exists():
        if not os.environ.get("SCALING_UPDATE_GOLDEN"):
            pytest.fail(f"no golden output for {cmd!r}: run with SCALING_UPDATE_GOLDEN=1 to write {path.name}")
        path.write_text(got)
    assert got == path.read_text(), f"{cmd} prints something else than {path.name}"
