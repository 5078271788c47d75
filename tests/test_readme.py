"""The README's two commands are the ones CI runs, and its quick start names shipped files."""

from __future__ import annotations

import re


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_ci_runs_the_readme_commands(root):
    readme = (root / "README.md").read_text()
    ci = (root / ".ci" / "run").read_text()
    setup, tests = (block.strip() for block in _bash_blocks(readme)[:2])
    assert "\n" not in setup and "\n" not in tests, "set-up and test are one command each"
    ci_lines = [line.strip() for line in ci.splitlines()]
    assert setup in ci_lines
    assert tests in ci_lines
    assert "torch==2.13.0" in (root / "pyproject.toml").read_text()


def test_quick_start_files_exist(root):
    readme = (root / "README.md").read_text()
    for path in re.findall(r"\binstances/\S+\.(?:tsp|vrp|csv|mps)\b", readme):
        assert (root / path).is_file(), path
