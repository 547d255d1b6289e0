"""Changes to dicts made whole or not at all, for the Python store and its orchestration part.

A write first prepares its changes as steps (``(mapping, key, new, old)``), which
allocates, then applies them, which for drops cannot fail; see ``commit_steps``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["MISSING", "PRUNE", "Step", "apply_steps", "commit_steps", "drop_steps"]

MISSING: Any = object()
PRUNE: Any = object()  # a step that drops a relation entry left with no member

Step = tuple[Any, Any, Any, Any]  # (mapping, key, new value or MISSING or PRUNE, old value or MISSING)


def apply_steps(steps: Iterator[Step]) -> None:
    """Make each change in ``steps``: set a key, drop it (``MISSING``) or prune an empty entry.

    Dropping and pruning never allocate; setting a key may, and either happens
    whole or not at all.
    """
    for mapping, key, new, _ in steps:
        if new is MISSING:
            mapping.pop(key, None)
        elif new is PRUNE:
            if not mapping.get(key, True):
                mapping.pop(key)
        else:
            mapping[key] = new


def commit_steps(steps: list[Step]) -> None:
    """Apply ``steps`` (every setting step before every dropping one), whole or not at all.

    If a step fails while keys are being set, the settings made are undone,
    with an iterator made beforehand, so undoing needs no allocation; if an
    asynchronous exception interrupts the drops, which cannot fail, they are
    finished. Either way the exception propagates.
    """
    undo = iter(steps)
    last_set = None
    for step in steps:
        if step[2] is not MISSING and step[2] is not PRUNE:
            last_set = step
    try:
        apply_steps(iter(steps))
    except BaseException:
        if last_set is None or last_set[0].get(last_set[1], MISSING) is last_set[2]:
            apply_steps(iter(steps))  # every setting step was made (they are made in order)
        else:
            for mapping, key, new, old in undo:
                if new is not MISSING and new is not PRUNE and mapping.get(key, MISSING) is new:
                    if old is MISSING:
                        mapping.pop(key)
                    else:
                        mapping[key] = old
        raise


def drop_steps(steps: list[Step]) -> None:
    """Apply ``steps``, drops only, which cannot fail; finished if an asynchronous exception stops them.

    Both passes' iterators are made first, so nothing after allocates; each step
    is idempotent, so the second pass finishes what the first began.
    """
    first, again = iter(steps), iter(steps)
    try:
        apply_steps(first)
    except BaseException:
        apply_steps(again)
        raise
