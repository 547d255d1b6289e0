"""``live_invocations``: what the caller observes with it off (copies) and on (the objects).

``make test`` also runs the adapter tests and pynenc's conformance suites with
``PYNENC__LIVE_INVOCATIONS=1``; these tests set the mode themselves.
"""

import os
from typing import Any

import pytest
from pynenc import Pynenc

from pynenc_fastmem import FastMemStateBackend

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
