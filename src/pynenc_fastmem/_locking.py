"""Locks held so that every exit releases them: an exception, an interrupt, memory running out.

Every lock taken in this package's Python code (the Python store's, ``EvictionLog``'s,
the adapter's) is held by one of these helpers. Two ways to hold a lock fail
somewhere in CPython 3.12-3.14, so each helper combines them:

- ``with lock: <call>`` on one line is safe from an asynchronous exception (a
  signal, or a trace function raising at a line): no line event and no pending
  signal check comes between taking the lock and entering the guarded call, or
  between the call and the release. But leaving the block calls the lock's
  ``__exit__``, a builtin that takes its arguments as a tuple; when memory stays
  exhausted that tuple cannot be made, ``MemoryError`` is raised instead, and the
  lock stays held (58 of 59 injection points on 3.13, ``tests/store/test_faults.py``).
- ``lock.acquire()`` / ``try`` / ``finally: lock.release()`` allocates nothing to
  release, but a line event at ``try`` or at the ``finally`` body, which runs
  outside the guarded range on a normal return, can raise with the lock held.

So the lock is a ``threading.RLock``, which knows its owner, held by the one-line
``with``; if that ``with`` could not release it, the handler around it does, with
calls that allocate nothing (``_is_owned`` and ``release`` take no arguments).
An ``RLock`` costs about what a ``Lock`` does; none of this code takes a lock it
already holds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["holding", "holding_all", "new_lock"]

Lock = Any  # a threading.RLock: typeshed has no name for its C type


def new_lock() -> Lock:
    """A lock for ``holding`` and ``holding_all``: a ``threading.RLock``, so its owner is known."""
    return threading.RLock()


def holding[T](lock: Lock, action: Callable[..., T], *args: Any) -> T:
    """Return ``action(*args)`` run holding ``lock``, released however the call ends.

    Runtime complexity: `O(1)` besides ``action``
    """
    try:
        with lock: return action(*args)  # fmt: skip
    except BaseException:
        if lock._is_owned(): lock.release()  # fmt: skip
        raise


def holding_all[T](locks: Sequence[Lock], action: Callable[..., T], *args: Any) -> T:
    """Return ``action(*args)`` run holding ``locks``, taken in the order given, all released after.

    Runtime complexity: `O(len(locks))` besides ``action``
    """
    try:
        if len(locks) == 1:
            with locks[0]: return action(*args)  # fmt: skip
        return _nested(locks, 0, action, args)
    except BaseException:
        # Released by index, newest first: a loop over an iterator would allocate one.
        position = len(locks)
        while position:
            position -= 1
            if locks[position]._is_owned(): locks[position].release()  # fmt: skip
        raise


def _nested[T](locks: Sequence[Lock], position: int, action: Callable[..., T], args: Any) -> T:
    if position + 1 == len(locks):
        with locks[position]: return action(*args)  # fmt: skip
    with locks[position]: return _nested(locks, position + 1, action, args)  # fmt: skip
