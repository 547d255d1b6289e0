"""The errors FastMemStateBackend raises for what retention evicted.

Each is a subclass of what pynenc raises for something never stored, so an
``except InvocationNotFoundError`` or ``except KeyError`` that works on pynenc's
backends keeps working; the message says the item was evicted and by which
setting. The store remembers the last ``EVICTED_IDS_REMEMBERED`` evicted ids;
an id evicted before them reads as never stored.
"""

from __future__ import annotations

from pynenc.exceptions import InvocationNotFoundError


class InvocationEvictedError(InvocationNotFoundError):
    """``get_invocation`` of an invocation that retention evicted."""


class EvictedError(KeyError):
    """A result or exception read after retention evicted its invocation.

    :param invocation_id: the evicted invocation
    :param message: what was read and which setting evicted it
    """

    def __init__(self, invocation_id: str, message: str) -> None:
        super().__init__(invocation_id)
        self.invocation_id = invocation_id
        self.message = message

    def __str__(self) -> str:
        return self.message
