"""The demo runs a real pynenc app on FastMemStateBackend and reports what it stored."""

import re

import pytest

from pynenc_fastmem.__main__ import main
from pynenc_fastmem.demo import run


def test_demo_runs_tasks_and_a_workflow(capsys: pytest.CaptureFixture[str]) -> None:
    run(200)
    out = capsys.readouterr().out
    assert "200/200" in out
    assert "Workflow sum_of_squares(20) = 2470 (expected 2470)" in out
    # 200 tasks, the workflow and its 20 sub-tasks, plus any of pynenc's own core tasks.
    stored = re.search(r"invocations: +(\d+)", out)
    assert stored is not None and int(stored.group(1)) >= 221
    assert "registered" in out and "success" in out


def test_command_line_refuses_unknown_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nope"]) == 2
    assert "usage" in capsys.readouterr().err
