"""pynenc's objects made as pynenc makes them, for a fraction of the cost.

Rebuilding invocations
----------------------

pynenc's ``BaseStateBackend.get_invocation`` makes a ``LazyCall`` and a
``DistributedInvocation`` from the stored DTOs on every read, through constructors that
look up the task, its configuration and its workflow role each time: about 4 µs, and
pynenc reads each invocation about five times while running it. The attributes they set
come from the DTOs, the task, and constants. So the first invocation of each task read is
rebuilt by pynenc itself and its fresh attributes kept as the task's template; later reads
make new objects of the same classes with the template's attributes and the DTOs' own
(about 0.5 µs). A task whose objects carry an attribute the template does not expect (a
pynenc release that adds one) keeps pynenc's own rebuild. ``tests/backend/test_shortcuts.py``
compares every attribute of both ways.

Making records and DTOs
-----------------------
pynenc's ``InvocationHistory``, ``InvocationDTO`` and ``CallDTO`` are dataclasses whose
generated ``__init__`` (keyword arguments, and ``object.__setattr__`` per field for the
frozen DTOs) costs 0.75-1 µs an object, about a third of each history write and of each
new invocation's upsert. ``history_record`` and ``invocation_dtos`` make the same objects
by filling a new instance's ``__dict__`` in field order, the default factories called as
``__init__`` calls them. At import each is checked against its constructor; one that does
not make what the constructor makes (a pynenc release that changes the classes) is
replaced by the constructor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pynenc.call import Call, LazyCall
from pynenc.identifiers.call_id import CallId
from pynenc.identifiers.task_id import TaskId
from pynenc.invocation.dist_invocation import DistributedInvocation, WorkflowInvocation
from pynenc.invocation.status import InvocationStatus, InvocationStatusRecord
from pynenc.models.call_dto import CallDTO
from pynenc.models.invocation_dto import InvocationDTO
from pynenc.state_backend.base_state_backend import InvocationHistory

if TYPE_CHECKING:
    from pynenc.app import Pynenc

#: The attributes of a fresh LazyCall, and of a fresh invocation, that rebuilding sets; the
#: ones named first come from the DTOs, the rest are the same for every read of a task.
CALL_FROM_DTO = frozenset({"_serialized_arguments", "_args_id", "_call_id"})
CALL_ATTRIBUTES = CALL_FROM_DTO | {"task", "_arguments"}
INVOCATION_FROM_DTO = frozenset(
    {"_call", "_invocation_id", "parent_invocation_id", "parent_event_id", "_workflow"}
)
INVOCATION_ATTRIBUTES = INVOCATION_FROM_DTO | {
    "_deterministic_runtime",
    "_result",
    "_num_retries",
    "_cached_status",
    "_cached_status_time",
    "_stored_in_backend",
}

Template = tuple[type, dict[str, Any], type, dict[str, Any]]


def pynenc_rebuild(app: Pynenc, inv_dto: InvocationDTO, call_dto: CallDTO) -> DistributedInvocation[Any, Any]:
    """What pynenc's ``BaseStateBackend.get_invocation`` returns for these DTOs."""
    return DistributedInvocation.from_dto(inv_dto, call=LazyCall.from_dto(app, call_dto))


class Rebuilder:
    """Rebuilds invocations of one app, keeping one template per task.

    :param app: the app whose tasks the invocations run (the backend's)
    """

    def __init__(self, app: Pynenc) -> None:
        self.app = app
        # task id -> template, or None for a task whose objects do not fit one
        self._templates: dict[Any, Template | None] = {}

    def __call__(self, inv_dto: InvocationDTO, call_dto: CallDTO) -> DistributedInvocation[Any, Any]:
        """A new invocation equal to what pynenc would rebuild from ``inv_dto`` and ``call_dto``.

        Runtime complexity: `O(a)` for `a` attributes (a dozen)
        """
        call_id = call_dto.call_id
        if call_id.task_id not in self._templates:
            invocation = pynenc_rebuild(self.app, inv_dto, call_dto)
            self._templates.setdefault(call_id.task_id, _template_of(invocation))  # atomic: no lock
            return invocation
        template = self._templates[call_id.task_id]
        if template is None or (inv_dto.workflow is None and template[0] is WorkflowInvocation):
            return pynenc_rebuild(self.app, inv_dto, call_dto)  # as pynenc does, errors included
        invocation_cls, invocation_attributes, call_cls, call_attributes = template
        call: Any = object.__new__(call_cls)
        attributes = call_attributes.copy()
        attributes["_serialized_arguments"] = call_dto.serialized_arguments
        attributes["_args_id"] = call_id.args_id
        attributes["_call_id"] = call_id
        call.__dict__ = attributes
        result: Any = object.__new__(invocation_cls)
        attributes = invocation_attributes.copy()
        attributes["_call"] = call
        attributes["_invocation_id"] = inv_dto.invocation_id
        attributes["parent_invocation_id"] = inv_dto.parent_invocation_id
        attributes["parent_event_id"] = inv_dto.parent_event_id
        attributes["_workflow"] = inv_dto.workflow
        result.__dict__ = attributes
        return result  # type: ignore[no-any-return]


def _template_of(invocation: DistributedInvocation[Any, Any]) -> Template | None:
    """The template of a freshly rebuilt invocation, or None if its attributes are not the known ones."""
    call = invocation.call
    invocation_attributes, call_attributes = dict(vars(invocation)), dict(vars(call))
    if invocation_attributes.keys() != INVOCATION_ATTRIBUTES or call_attributes.keys() != CALL_ATTRIBUTES:
        return None
    return type(invocation), invocation_attributes, type(call), call_attributes


_new = object.__new__
_set = object.__setattr__  # the DTOs are frozen: their own __setattr__ refuses
_INVOCATION_TO_DTO = DistributedInvocation.to_dto
_CALL_TO_DTO = Call.to_dto


def _default_factory(cls: type, name: str) -> Callable[[], Any]:
    """The default factory of field ``name`` of dataclass ``cls`` (``None`` when it has none)."""
    for field in dataclasses.fields(cls):
        if field.name == name and field.default_factory is not dataclasses.MISSING:
            return field.default_factory
    return None  # type: ignore[return-value]


_history_timestamp = _default_factory(InvocationHistory, "_timestamp")


def history_record(
    invocation_id: str,
    status_record: InvocationStatusRecord,
    runner_context_id: str,
    registered_by_inv_id: str | None,
) -> InvocationHistory:
    """``InvocationHistory(invocation_id=..., ...)``, stamped now as its constructor stamps it."""
    record = _new(InvocationHistory)
    record.__dict__ = {
        "invocation_id": invocation_id,
        "_timestamp": _history_timestamp(),
        "status_record": status_record,
        "runner_context_id": runner_context_id,
        "registered_by_inv_id": registered_by_inv_id,
    }
    return record


def invocation_dtos(invocation: DistributedInvocation[Any, Any]) -> tuple[InvocationDTO, CallDTO]:
    """``(invocation.to_dto(), invocation.call.to_dto())``, read in the same order.

    Classes that override ``to_dto`` get their own.
    """
    call = invocation.call
    if type(invocation).to_dto is not _INVOCATION_TO_DTO or type(call).to_dto is not _CALL_TO_DTO:
        return invocation.to_dto(), call.to_dto()
    invocation_id, call_id = invocation.invocation_id, call.call_id
    parent_invocation_id, parent_event_id = invocation.parent_invocation_id, invocation.parent_event_id
    inv_dto = _new(InvocationDTO)
    _set(
        inv_dto,
        "__dict__",
        {
            "invocation_id": invocation_id,
            "call_id": call_id,
            "workflow": invocation.workflow,
            "parent_invocation_id": parent_invocation_id,
            "parent_event_id": parent_event_id,
        },
    )
    call_dto = _new(CallDTO)
    _set(call_dto, "__dict__", {"call_id": call.call_id, "serialized_arguments": call.serialized_arguments})
    return inv_dto, call_dto


def _constructed_history_record(
    invocation_id: str,
    status_record: InvocationStatusRecord,
    runner_context_id: str,
    registered_by_inv_id: str | None,
) -> InvocationHistory:
    return InvocationHistory(
        invocation_id=invocation_id,
        status_record=status_record,
        runner_context_id=runner_context_id,
        registered_by_inv_id=registered_by_inv_id,
    )


def _constructed_invocation_dtos(
    invocation: DistributedInvocation[Any, Any],
) -> tuple[InvocationDTO, CallDTO]:
    return invocation.to_dto(), invocation.call.to_dto()


def same_objects(made: object, constructed: object, stamped: frozenset[str] = frozenset()) -> bool:
    """Whether ``made`` has ``constructed``'s type and attributes, in the same order.

    The attributes named in ``stamped`` (set by a clock) need only have the same type.
    """
    if type(made) is not type(constructed) or list(vars(made)) != list(vars(constructed)):
        return False
    return all(
        type(value) is type(vars(constructed)[name]) if name in stamped else value == vars(constructed)[name]
        for name, value in vars(made).items()
    )


def _history_record_fits() -> bool:
    arguments = ("inv-1", InvocationStatusRecord(status=InvocationStatus.REGISTERED), "runner-1", "parent-1")
    try:
        return same_objects(
            history_record(*arguments), _constructed_history_record(*arguments), frozenset({"_timestamp"})
        )
    except Exception:  # noqa: BLE001 - any surprise means: use the constructor
        return False


class _SampleCall:
    """What ``invocation_dtos`` reads of a call."""

    call_id = CallId(task_id=TaskId("module", "function"), args_id="args-1")
    serialized_arguments = {"x": "1"}
    to_dto = _CALL_TO_DTO


class _SampleInvocation:
    """What ``invocation_dtos`` reads of an invocation."""

    invocation_id, parent_invocation_id, parent_event_id, workflow = "inv-1", "parent-1", "event-1", None
    call = _SampleCall()
    to_dto = _INVOCATION_TO_DTO


def _invocation_dtos_fit() -> bool:
    sample: Any = _SampleInvocation()
    try:
        made, constructed = invocation_dtos(sample), _constructed_invocation_dtos(sample)
        return all(same_objects(a, b) for a, b in zip(made, constructed, strict=True))
    except Exception:  # noqa: BLE001 - any surprise means: use the constructors
        return False


if _history_timestamp is None or not _history_record_fits():
    history_record = _constructed_history_record
if not _invocation_dtos_fit():
    invocation_dtos = _constructed_invocation_dtos
