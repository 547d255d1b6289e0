"""Trace app: workflows that fan out to sub-tasks and keep workflow data as they go."""

from __future__ import annotations

from .apps import thread_app

app = thread_app("trace-workflows")


@app.task  # type: ignore[untyped-decorator]
def step(x: int) -> int:
    """One step of a pipeline; it records its progress in the workflow's data."""
    step.wf.set_data(f"step-{x}", "done")
    return x * 2


@app.workflow  # type: ignore[untyped-decorator]
def pipeline(width: int) -> int:
    """Run ``width`` steps as sub-invocations, keep a running total in the workflow's data."""
    pipeline.wf.set_data("width", width)
    total = sum(invocation.result for invocation in [step(x) for x in range(width)])
    pipeline.wf.set_data("total", total)
    return total


def drive(scale: int) -> None:
    """Run ``scale // 10`` workflows of ten steps each, four at a time, reading every result.

    Four at a time: a workflow root waits in a runner thread for its steps, and a
    ThreadRunner whose every thread holds a waiting root runs no step until one times out.
    """
    for _ in range(0, max(1, scale // 10), 4):
        for run in [pipeline(10) for _ in range(4)]:
            assert run.result == 90
