"""The README's quick start runs as written: a task, a ThreadRunner in the process, results printed."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def test_the_quick_start_runs_as_written(tmp_path: Path) -> None:
    text = README.read_text()
    quick_start = text.split("## Quick start", 1)[1]
    instruction = re.search(r'run `python -c "import (\w+)"`', quick_start)
    assert instruction, "the quick start says how to run it"
    module = instruction.group(1)
    block = quick_start.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / f"{module}.py").write_text(block)
    finished = subprocess.run(
        [sys.executable, "-c", f"import {module}"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "[0, 11, 22, 33, 44]"
    assert finished.stderr == "", "a first run prints nothing but the results"
