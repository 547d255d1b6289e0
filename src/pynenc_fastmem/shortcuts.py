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

Making history records
----------------------
pynenc's ``InvocationHistory`` is a dataclass whose generated ``__init__`` (keyword
arguments, a default factory) costs about 0.7 µs, a quarter of each public history write.
``history_record`` makes the same object for about 0.5 µs: a new instance whose
attributes are set one by one in field order, the default factory called as ``__init__``
calls it. (Assigning a whole ``__dict__`` instead would be quicker still, but doubles each
record's memory: CPython then keeps a separate dict for it.) At import it is checked
against the constructor, and replaced by it when a pynenc release makes another object.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pynenc.call import LazyCall
from pynenc.invocation.dist_invocation import DistributedInvocation, WorkflowInvocation
from pynenc.invocation.status import InvocationStatus, InvocationStatusRecord
from pynenc.state_backend.base_state_backend import InvocationHistory

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.models.call_dto import CallDTO
    from pynenc.models.invocation_dto import InvocationDTO

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
    record.invocation_id = invocation_id
    record._timestamp = _history_timestamp()
    record.status_record = status_record
    record.runner_context_id = runner_context_id
    record.registered_by_inv_id = registered_by_inv_id
    return record


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


if _history_timestamp is None or not _history_record_fits():
    history_record = _constructed_history_record
