"""``live_invocations``: what the caller observes with it off (copies) and on (the objects).

``make test`` also runs the adapter tests and pynenc's conformance suites with
``PYNENC__LIVE_INVOCATIONS=1``; these tests set the mode themselves.
"""

import os
from typing import Any

import pytest
from pynenc import Pynenc
from pynenc.exceptions import InvocationError
from pynenc.state_backend import MemStateBackend

from pynenc_fastmem import FastMemStateBackend
from pynenc_fastmem.state_backend import KeptException

app = Pynenc(config_values={"app_id": "fastmem-live-tests"})


@app.task
def echo(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


@pytest.fixture(params=[False, True], ids=["copies", "live"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> FastMemStateBackend:
    monkeypatch.delenv("PYNENC__LIVE_INVOCATIONS", raising=False)
    configured = Pynenc(config_values={"app_id": "fastmem-live-tests", "live_invocations": request.param})
    backend = FastMemStateBackend(configured)
    assert backend.conf.live_invocations is request.param
    return backend


def test_get_invocation_returns_a_copy_or_the_object(backend: FastMemStateBackend) -> None:
    invocation = echo({"a": [1]})
    backend.upsert_invocations([invocation])
    found = backend.get_invocation(invocation.invocation_id)
    assert found == invocation
    assert found.call.arguments.kwargs == {"payload": {"a": [1]}}
    assert (found is invocation) is backend.conf.live_invocations


def test_raw_dto_pairs_are_the_same_either_way(backend: FastMemStateBackend) -> None:
    invocation = echo({"a": 1})
    backend.upsert_invocations([invocation])
    assert backend._get_invocation(invocation.invocation_id) == (
        invocation.to_dto(),
        invocation.call.to_dto(),
    )
    assert backend._get_invocation("missing") is None


def test_results_are_copies_or_the_object(backend: FastMemStateBackend) -> None:
    result = {"values": [1, 2]}
    backend.set_result("inv", result)
    found = backend.get_result("inv")
    assert found == result
    assert (found is result) is backend.conf.live_invocations
    assert backend._get_result("inv") == app.client_data_store.serialize(result)
    backend._set_result("raw", app.client_data_store.serialize(result))
    assert backend.get_result("raw") == result
    with pytest.raises(KeyError):
        backend.get_result("missing")


class Unreachable(ConnectionError):
    """An exception with state of its own, as a task might raise."""


def _unreachable(host: str, tried: list[str]) -> Unreachable:
    exception = Unreachable(f"{host} is unreachable")
    exception.host, exception.tried = host, tried  # type: ignore[attr-defined]
    return exception


def _raised(exception: Exception) -> Any:
    try:
        raise exception
    except Exception as raised:  # noqa: BLE001 - caught to keep its traceback, as a runner does
        return raised


def test_every_read_of_an_exception_is_a_new_copy(backend: FastMemStateBackend) -> None:
    raised = _raised(_unreachable("db", ["db-1"]))
    backend.set_exception("inv", raised)
    raised.tried.append("after it was stored")
    first, second = backend.get_exception("inv"), backend.get_exception("inv")
    for found in (first, second):
        assert type(found) is Unreachable and found is not raised
        assert (found.args, found.host, found.tried) == (("db is unreachable",), "db", ["db-1"])
        assert found.__traceback__ is None
    first.tried.append("changed by a reader")
    _raised(first)  # raising a copy gives it a traceback: not the next reader's
    assert backend.get_exception("inv").tried == ["db-1"]
    assert backend.get_exception("inv").__traceback__ is None
    assert first is not second and first.tried is not second.tried


def test_the_raw_exception_is_pynenc_s_serialization_either_way(backend: FastMemStateBackend) -> None:
    raised = _raised(_unreachable("db", ["db-1"]))
    backend.set_exception("inv", raised)
    assert backend._get_exception("inv") == backend.serialize_exception(raised)
    backend._set_exception("raw", backend.serialize_exception(raised))
    assert backend.get_exception("raw").tried == ["db-1"]
    with pytest.raises(KeyError):
        backend.get_exception("missing")
    exported = MemStateBackend(Pynenc(config_values={"app_id": "fastmem-live-export"}))
    backend.export_to(exported, progress=False)
    assert exported._get_exception("inv") == backend.serialize_exception(raised)


class Uncopyable(Exception):
    """An exception ``copy.deepcopy`` refuses, which pynenc's serializer still takes."""

    def __deepcopy__(self, memo: dict[int, Any]) -> "Uncopyable":
        raise TypeError("not copyable")


@pytest.mark.parametrize(
    "exception",
    [Uncopyable("x"), InvocationError("inv-9", "a pynenc error")],
    ids=["uncopyable", "pynenc-error"],
)
def test_what_live_mode_cannot_copy_is_serialized(backend: FastMemStateBackend, exception: Exception) -> None:
    backend.set_exception("inv", exception)
    assert type(backend._store.get_exception("inv")) is str
    found = backend.get_exception("inv")
    assert type(found) is type(exception) and str(found) == str(exception)


class Strict(Exception):
    """An exception whose ``args`` do not rebuild it: neither pynenc nor ``deepcopy`` can."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"{code}: {detail}")


def test_an_exception_that_cannot_be_rebuilt_fails_alike_either_way(backend: FastMemStateBackend) -> None:
    backend.set_exception("inv", Strict(1, "refused"))
    with pytest.raises(TypeError, match="detail"):
        backend.get_exception("inv")


def test_live_mode_keeps_exceptions_as_objects(backend: FastMemStateBackend) -> None:
    backend.set_exception("inv", ValueError("bad"))
    kept = backend._store.get_exception("inv")
    assert (type(kept) is KeptException) is backend.conf.live_invocations


def test_dto_pairs_written_raw_are_rebuilt(backend: FastMemStateBackend) -> None:
    invocation = echo({"b": 2})
    backend._upsert_invocations([(invocation.to_dto(), invocation.call.to_dto())])
    found = backend.get_invocation(invocation.invocation_id)
    assert found == invocation and found is not invocation


def test_live_mode_refuses_what_is_not_an_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYNENC__LIVE_INVOCATIONS", raising=False)
    live = FastMemStateBackend(Pynenc(config_values={"app_id": "live-bad", "live_invocations": True}))
    invocation = echo({"c": 3})
    with pytest.raises(TypeError, match=r"invocations\[1\]"):
        live.upsert_invocations([invocation, "not an invocation"])  # type: ignore[list-item]
    assert live._get_invocation(invocation.invocation_id) is None


@pytest.mark.parametrize("value", ["maybe", 2, None])
def test_a_bad_live_setting_is_refused(value: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYNENC__LIVE_INVOCATIONS", raising=False)
    with pytest.raises((TypeError, ValueError), match="boolean"):
        FastMemStateBackend(Pynenc(config_values={"app_id": "live-bad", "live_invocations": value}))


def test_the_environment_sets_the_mode_of_every_app() -> None:
    """What makes ``make test-live`` a live run: the variable reaches apps built anywhere."""
    expected = os.environ.get("PYNENC__LIVE_INVOCATIONS", "") not in ("", "0")
    built = Pynenc(config_values={"app_id": "fastmem-live-env"})
    assert FastMemStateBackend(built).conf.live_invocations is expected
