"""The demo runs a real pynenc app on FastMemStateBackend, reports what it stored and times queries."""

import io
import re
import signal
import subprocess
import sys
import urllib.request

import pytest

from pynenc_fastmem.__main__ import main
from pynenc_fastmem.demo import run
from pynenc_fastmem.progress import Progress


def test_demo_runs_tasks_and_a_workflow_and_compares_queries() -> None:
    out = io.StringIO()
    run(200, out=out)
    text = out.getvalue()
    assert re.search(r"Ran 200 tasks on a ThreadRunner in [\d.]+ s \([\d,]+ tasks/s\)", text)
    assert "Workflow sum_of_squares(20) = 2470 (expected 2470)" in text
    # 200 tasks, the workflow and its 20 sub-tasks, plus any of pynenc's own core tasks.
    stored = re.search(r"invocations: +([\d,]+)", text)
    assert stored is not None and int(stored.group(1).replace(",", "")) >= 221
    timings = re.findall(
        r"^  (.+?) +([\d.]+) (ns|µs|ms) +([\d.]+) (ns|µs|ms)  ([\d,.]+)x faster$", text, re.MULTILINE
    )
    assert [name for name, *_ in timings] == [
        "every history record of the run (time range)",
        "the invocations of one workflow",
        "one invocation's history",
    ]
    for _, fast, _, mem, _, ratio in timings:
        assert float(fast) > 0 and float(mem) > 0 and float(ratio.replace(",", "")) > 0
    assert "The gap grows with the store" in text and "1,000,000 records" in text
    assert "\r" not in text  # not a terminal: no progress bar


def test_the_progress_bar_is_drawn_on_a_terminal_only() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, log = Terminal(), io.StringIO()
    for stream in (terminal, log):
        bar = Progress("work", 3, stream)
        for done in range(1, 4):
            bar.update(done)
    assert terminal.getvalue().endswith("] 3/3 (" + terminal.getvalue().rsplit("(", 1)[1])
    assert "\r" in terminal.getvalue() and terminal.getvalue().endswith("/s)\n")
    assert log.getvalue() == ""
    forced = io.StringIO()
    Progress("work", 1, forced, enabled=True).update(1)
    assert "1/1" in forced.getvalue()


def test_help_lists_the_commands() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pynenc_fastmem", "--help"], capture_output=True, text=True, check=True
    )
    assert "info" in done.stdout and "demo" in done.stdout
    demo_help = subprocess.run(
        [sys.executable, "-m", "pynenc_fastmem", "demo", "--help"], capture_output=True, text=True, check=True
    )
    for option in ("--tasks", "--monitor", "--port", "--progress"):
        assert option in demo_help.stdout


def test_demo_monitor_prints_the_tokenized_url_and_stops_on_ctrl_c() -> None:
    pytest.importorskip("pynmon")
    demo = subprocess.Popen(
        [sys.executable, "-m", "pynenc_fastmem", "demo", "--tasks", "20", "--monitor"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert demo.stdout is not None
        for line in demo.stdout:  # the test's timeout ends a demo that never prints it
            found = re.search(r"monitor for this app: (http://127\.0\.0\.1:\d+/\?token=[\w-]+)", line)
            if found:
                break
        assert found, "the demo ended without printing the monitor's URL"
        url = found.group(1)
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
        plain = url.split("?", 1)[0]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(plain + "invocations/", timeout=30)
        assert refused.value.code == 401
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=30) == 0
    finally:
        demo.kill()
        demo.wait()


def test_info_names_the_store_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    from pynenc_fastmem import IMPLEMENTATION

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"the {IMPLEMENTATION} store" in out
    assert "fast_memory()'s pace: the runner loop and the wait for a result sleep 0.005 s" in out


@pytest.mark.parametrize("argv", [["nope"], ["demo", "--tasks", "0"], []])
def test_command_line_refuses_what_it_does_not_know(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert "usage" in capsys.readouterr().err
