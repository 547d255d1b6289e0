"""Copying what one state backend holds into another: ``export_to`` and ``import_from``.

A transfer is a plan: for each kind of item, the chunks to copy and the function
that writes one chunk and returns how many items it wrote. One loop runs every
plan, counts and draws the progress bar. Everything goes through the other
backend's public and raw methods, so any pynenc state backend works on the other
side, with one exception: pynenc's API cannot list a workflow's data keys, so
``import_from`` reads workflow data from the backends it knows (FastMem, Mem,
SQLite) and counts it as ``skipped_workflow_data`` from any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, TextIO, TypedDict

from pynenc.state_backend import MemStateBackend, SQLiteStateBackend

from .progress import Progress
from .state_backend import FastMemStateBackend, dto_pair

if TYPE_CHECKING:
    from pynenc.state_backend.base_state_backend import BaseStateBackend, InvocationHistory
    from pynenc.workflow import WorkflowIdentity

#: A transfer shows progress by default from this many items on, and only on a terminal.
PROGRESS_FROM = 10_000
CHUNK = 1000
ALL_TIME = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


class TransferCounts(TypedDict):
    """How many items of each kind a transfer copied (``export_to``, ``import_from``)."""

    invocations: int
    history_records: int
    results: int
    exceptions: int
    workflow_runs: int
    workflow_data: int
    #: export: data items whose workflow has no known identity; import: workflows whose
    #: data the source cannot list (a backend other than FastMem, Mem or SQLite)
    skipped_workflow_data: int
    sub_invocations: int
    runner_contexts: int
    app_infos: int
    #: import only: invocations on both sides whose latest record here was newer, left as they are
    newer_here: int
    #: import only: invocations on both sides whose latest record here was older, replaced
    replaced: int


Write = Callable[[list[Any]], int]
Plan = list[tuple[str, Iterable[list[Any]], Write]]


def _run(
    plan: Plan, counts: TransferCounts, label: str, total: int, progress: bool | None, stream: TextIO | None
) -> TransferCounts:
    """Write every chunk of every kind in ``plan``, counting, with a bar over the first ``total`` items.

    The bar is drawn on a terminal when ``progress`` is None and there are at least ``PROGRESS_FROM`` items.
    """
    bar = Progress(
        label, total, stream, progress if progress is not None or total >= PROGRESS_FROM else False
    )
    done = 0
    for kind, chunks, write in plan:
        for chunk in chunks:
            written = write(chunk)
            counts[kind] += written  # type: ignore[literal-required]
            done += written
            bar.update(min(done, total))
    bar.update(total)
    return counts


def _new_counts() -> TransferCounts:
    return TransferCounts(
        invocations=0, history_records=0, results=0, exceptions=0, workflow_runs=0, workflow_data=0,
        skipped_workflow_data=0, sub_invocations=0, runner_contexts=0, app_infos=0, newer_here=0, replaced=0,
    )  # fmt: skip


def _chunks(items: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _each(write_one: Callable[..., object]) -> Write:
    """A chunk writer that calls ``write_one(*item)`` for each item of the chunk."""

    def write(chunk: list[Any]) -> int:
        for item in chunk:
            write_one(*item)
        return len(chunk)

    return write


# Export: this backend's store, read chunk by chunk, into any backend.


def export(
    backend: FastMemStateBackend[Any, Any],
    other: BaseStateBackend[Any, Any],
    progress: bool | None,
    stream: TextIO | None,
) -> TransferCounts:
    """Copy everything ``backend`` holds into ``other`` (see ``FastMemStateBackend.export_to``)."""
    store = backend._store
    stats = store.stats()
    total = stats["invocations"] + stats["history_records"] + stats["results"] + stats["exceptions"]
    counts = _new_counts()
    identities: dict[str, WorkflowIdentity] = {}

    def write_invocations(chunk: list[Any]) -> int:
        pairs = [pair for _, value in chunk if (pair := dto_pair(value)) is not None]
        for inv_dto, _ in pairs:
            if inv_dto.workflow is not None:
                identities.setdefault(inv_dto.workflow.workflow_id, inv_dto.workflow)
        other._upsert_invocations(pairs)
        return len(pairs)

    def write_histories(chunk: list[Any]) -> int:
        start = 0
        for end in range(1, len(chunk) + 1):
            # Records written together for several invocations are copied together.
            if end == len(chunk) or chunk[end][1] is not chunk[start][1]:
                other._add_histories([inv_id for inv_id, _ in chunk[start:end]], chunk[start][1])
                start = end
        return len(chunk)

    def write_run(run: WorkflowIdentity) -> None:
        identities[run.workflow_id] = run
        other.store_workflow_run(run)

    def write_workflow_data(chunk: list[Any]) -> int:
        known = [(identities[wid], key, value) for wid, key, value in chunk if wid in identities]
        counts["skipped_workflow_data"] += len(chunk) - len(known)
        return _each(other.set_workflow_data)(known)

    def write_serialized(write: Callable[[Any, str], None]) -> Write:
        # A result or exception kept as an object (KeptResult, KeptException) goes out serialized.
        return _each(lambda invocation_id, value: write(invocation_id, backend._serialized(value)))

    app_info = backend._app_infos.get(backend.app.app_id)
    plan: Plan = [
        ("invocations", store.items("invocations"), write_invocations),
        ("history_records", store.items("histories"), write_histories),
        ("results", store.items("results"), write_serialized(other._set_result)),
        ("exceptions", store.items("exceptions"), write_serialized(other._set_exception)),
        ("workflow_runs", _chunks((run,) for run in store.workflow_runs()), _each(write_run)),
        ("workflow_data", store.items("workflow_data"), write_workflow_data),
        ("sub_invocations", store.items("sub_invocations"), _each(other.store_workflow_sub_invocation)),
        (
            "runner_contexts",
            store.items("runner_contexts"),
            _each(lambda _, c: other._store_runner_context(c)),
        ),
        ("app_infos", [[(app_info,)]] if app_info is not None else [], _each(other.store_app_info)),
    ]
    return _run(plan, counts, "export", total, progress, stream)


# Import: any backend, read through pynenc's API, merged into this one.


def import_(
    backend: FastMemStateBackend[Any, Any],
    other: BaseStateBackend[Any, Any],
    progress: bool | None,
    stream: TextIO | None,
) -> TransferCounts:
    """Merge everything ``other`` holds into ``backend`` (see ``FastMemStateBackend.import_from``)."""
    counts = _new_counts()
    taken = _invocations_to_take(backend, other, counts)
    runs = list(other.get_all_workflow_runs())
    workflow_ids = dict.fromkeys(
        [run.workflow_id for run in runs]
        + [pair[0].workflow.workflow_id for _, pair, _ in taken if pair[0].workflow is not None]
    )
    workflow_data = _workflow_data_of(other)
    if workflow_data is None:
        counts["skipped_workflow_data"] = len(workflow_ids)
        workflow_data = []
    total = sum(1 + len(records) for _, _, records in taken)

    def write_outcomes(read: Callable[[Any], str], write: Callable[[Any, str], None]) -> Write:
        def copy(chunk: list[Any]) -> int:
            written = 0
            for invocation_id, _, _ in chunk:
                try:
                    value = read(invocation_id)
                except KeyError:
                    continue
                write(invocation_id, value)
                written += 1
            return written

        return copy

    def write_histories(chunk: list[Any]) -> int:
        for invocation_id, _, records in chunk:
            for record in records:
                backend._add_histories([invocation_id], record)
        return sum(len(records) for _, _, records in chunk)

    def write_missing_data(chunk: list[Any]) -> int:
        written = 0
        for identity, key, value in chunk:
            if backend.get_workflow_data(identity, key, _ABSENT) is _ABSENT:
                backend.set_workflow_data(identity, key, value)
                written += 1
        return written

    identities: dict[str, WorkflowIdentity] = {run.workflow_id: run for run in runs}
    identities |= {pair[0].workflow.workflow_id: pair[0].workflow for _, pair, _ in taken if pair[0].workflow}
    known_data = ((identities[w], key, value) for w, key, value in workflow_data if w in identities)
    add_sub_invocation = backend.store_workflow_sub_invocation
    plan: Plan = [
        ("invocations", _chunks(taken), lambda chunk: _upsert(backend, [pair for _, pair, _ in chunk])),
        ("history_records", _chunks(taken), write_histories),
        ("results", _chunks(taken), write_outcomes(other._get_result, backend._set_result)),
        ("exceptions", _chunks(taken), write_outcomes(other._get_exception, backend._set_exception)),
        ("workflow_runs", _chunks((run,) for run in runs), _each(backend.store_workflow_run)),
        ("workflow_data", _chunks(known_data), write_missing_data),
        ("sub_invocations", _chunks(_sub_invocations(other, workflow_ids)), _each(add_sub_invocation)),
        ("runner_contexts", _chunks(_missing_contexts(backend, other)), _each(backend._store_runner_context)),
        ("app_infos", _chunks(_app_info(other)), _each(backend.store_app_info)),
    ]  # fmt: skip
    return _run(plan, counts, "import", total, progress, stream)


_ABSENT = object()


def _upsert(backend: FastMemStateBackend[Any, Any], pairs: list[Any]) -> int:
    backend._upsert_invocations(pairs)
    return len(pairs)


def _invocations_to_take(
    backend: FastMemStateBackend[Any, Any], other: BaseStateBackend[Any, Any], counts: TransferCounts
) -> list[tuple[str, Any, list[InvocationHistory]]]:
    """``(id, DTO pair, records to add)`` for each invocation of ``other`` to take.

    An id stored on both sides is taken when its latest record in ``other`` is
    newer than here; then only its records newer than the latest here are added.
    """
    ids = dict.fromkeys(i for batch in other.iter_invocations_in_timerange(*ALL_TIME) for i in batch)
    ids |= dict.fromkeys(other.get_invocation_ids_by_workflow())
    taken = []
    for invocation_id in map(str, ids):
        pair = other._get_invocation(invocation_id)  # type: ignore[arg-type]
        if pair is None:
            continue
        records = other._get_history(invocation_id)  # type: ignore[arg-type]
        if backend._store.get_invocation(invocation_id) is not None:
            here = backend._get_history(invocation_id)  # type: ignore[arg-type]
            latest_here = max((record.timestamp for record in here), default=ALL_TIME[0])
            if max((record.timestamp for record in records), default=ALL_TIME[0]) <= latest_here:
                counts["newer_here"] += 1
                continue
            counts["replaced"] += 1
            records = [record for record in records if record.timestamp > latest_here]
        taken.append((invocation_id, pair, records))
    return taken


def _workflow_data_of(other: BaseStateBackend[Any, Any]) -> list[tuple[str, str, Any]] | None:
    """Every ``(workflow id, key, value)`` of ``other``, or ``None`` if its kind cannot list them."""
    if isinstance(other, FastMemStateBackend):
        return [item for chunk in other._store.items("workflow_data") for item in chunk]
    if isinstance(other, MemStateBackend):
        return [
            (str(w), key, value)
            for w, data in list(other._workflow_data.items())
            for key, value in data.items()
        ]
    if isinstance(other, SQLiteStateBackend):
        from pynenc.util.sqlite_utils import create_sqlite_connection

        with create_sqlite_connection(other.sqlite_db_path) as connection:
            rows = connection.execute(
                f"SELECT workflow_id, data_key, data_value FROM {other.tables.WORKFLOW_DATA}"
            ).fetchall()
        deserialize = other.app.client_data_store.deserialize
        return [(workflow_id, key, deserialize(value)) for workflow_id, key, value in rows]
    return None


def _sub_invocations(
    other: BaseStateBackend[Any, Any], workflow_ids: dict[str, None]
) -> Iterator[tuple[str, str]]:
    for workflow_id in workflow_ids:
        for invocation_id in other.get_workflow_sub_invocations(workflow_id):  # type: ignore[arg-type]
            yield workflow_id, invocation_id


def _missing_contexts(
    backend: FastMemStateBackend[Any, Any], other: BaseStateBackend[Any, Any]
) -> Iterator[tuple[Any]]:
    for context in other.get_matching_runner_contexts(""):
        if backend._get_runner_context(context.runner_id) is None:
            yield (context,)


def _app_info(other: BaseStateBackend[Any, Any]) -> list[tuple[Any]]:
    try:
        return [(other.get_app_info(),)]
    except ValueError:  # never stored there
        return []
