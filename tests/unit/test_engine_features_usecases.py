"""Pairing code, number check and the worker view, on fakes: validation, ownership, states."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.transport.neonize import UNAVAILABLE_REASON, UnavailableNeonizeEngine
from domain.entities import InstanceStatus, Principal
from domain.errors import Conflict, EngineFailure, Forbidden, NotFound, ValidationFailed
from domain.instances import NewInstance
from domain.numbers import MAX_NUMBERS_PER_CHECK, NumberChecks
from domain.pairing import Pairing
from domain.wire import NumberCheck, WorkerInfo
from domain.workers import EngineWorkerView
from tests.unit.conftest import Core


async def _instance(core: Core, owner: Principal, status: InstanceStatus) -> str:
    inst = await core.instances.create(owner, NewInstance(name="a"))
    if status is InstanceStatus.QR:
        await core.listener.on_qr(inst.id, "2@abc")
    elif status is InstanceStatus.CONNECTED:
        await core.listener.on_connected(inst.id, "15550001111", "Shop")
    elif status is InstanceStatus.LOGGED_OUT:
        await core.listener.on_logged_out(inst.id, "from phone")
    elif status is InstanceStatus.DISCONNECTED:
        await core.listener.on_disconnected(inst.id, "network", True)
    assert (await core.instances.get(owner, inst.id)).status is status
    core.engine.calls.clear()
    return inst.id


# --- pairing code ---------------------------------------------------------------------------


async def test_pairing_code_normalises_the_phone_and_returns_the_engines_code(core: Core) -> None:
    owner = await core.principal("a@example.com")
    iid = await _instance(core, owner, InstanceStatus.QR)
    core.engine.next_pairing_code = "K7QX-2M9P"
    code = await Pairing(core.instances, core.connections).pairing_code(
        owner, iid, " +49 151 2345-678 "
    )
    assert code == "K7QX-2M9P"
    assert core.engine.calls == [("pairing_code", iid, "491512345678")]


@pytest.mark.parametrize("phone", ["", "abc", "12345", "0151 2345678", "+0049151234567", 4915123])
async def test_pairing_code_refuses_a_phone_not_in_international_format(
    core: Core, phone: object
) -> None:
    owner = await core.principal("a@example.com")
    iid = await _instance(core, owner, InstanceStatus.QR)
    with pytest.raises(ValidationFailed) as err:
        await Pairing(core.instances, core.connections).pairing_code(owner, iid, phone)
    assert err.value.details["field"] == "phone"
    assert core.engine.calls == []


@pytest.mark.parametrize(
    "status",
    [
        InstanceStatus.CONNECTING,
        InstanceStatus.CONNECTED,
        InstanceStatus.DISCONNECTED,
        InstanceStatus.LOGGED_OUT,
    ],
)
async def test_pairing_code_only_while_the_instance_shows_a_qr(
    core: Core, status: InstanceStatus
) -> None:
    owner = await core.principal("a@example.com")
    iid = await _instance(core, owner, status)
    with pytest.raises(Conflict) as err:
        await Pairing(core.instances, core.connections).pairing_code(owner, iid, "491512345678")
    assert err.value.details["instanceStatus"] == status.value
    assert core.engine.calls == []


async def test_pairing_code_of_a_foreign_instance_is_not_found_but_admin_may(core: Core) -> None:
    alice = await core.principal("alice@example.com")
    bob = await core.principal("bob@example.com")
    admin = await core.principal("root@example.com", role="admin")
    iid = await _instance(core, alice, InstanceStatus.QR)
    pairing = Pairing(core.instances, core.connections)
    with pytest.raises(NotFound):
        await pairing.pairing_code(bob, iid, "491512345678")
    assert core.engine.calls == []
    assert await pairing.pairing_code(admin, iid, "491512345678") == "ABCD-1234"


# --- number check ---------------------------------------------------------------------------


async def test_check_normalises_dedupes_and_answers_in_the_order_given(core: Core) -> None:
    owner = await core.principal("a@example.com")
    iid = await _instance(core, owner, InstanceStatus.CONNECTED)
    core.engine.whatsapp_numbers = {"491512345678"}
    found = await NumberChecks(core.instances, core.connections).check(
        owner, iid, ["+49 30 1234567", "+49 151 2345-678", "491512345678@s.whatsapp.net"]
    )
    assert found == [
        NumberCheck("49301234567", None, False),
        NumberCheck("491512345678", "491512345678@s.whatsapp.net", True),
    ]
    assert core.engine.calls == [("check_numbers", iid, ["49301234567", "491512345678"])]


async def test_check_names_every_invalid_number_and_asks_nothing(core: Core) -> None:
    owner = await core.principal("a@example.com")
    iid = await _instance(core, owner, InstanceStatus.CONNECTED)
    with pytest.raises(ValidationFailed) as err:
        await NumberChecks(core.instances, core.connections).check(
            owner, iid, ["123", "+49 151 2345678", "call me", "0151 2345678", "1@g.us"]
        )
    assert err.value.details == {
        "field": "phones",
        "invalid": ["123", "call me", "0151 2345678", "1@g.us"],
    }
    for bad in ("'123'", "'call me'", "'0151 2345678'", "'1@g.us'"):
        assert bad in err.value.message
    assert core.engine.calls == []


@pytest.mark.parametrize("count", [0, MAX_NUMBERS_PER_CHECK + 1])
async def test_check_takes_1_to_50_numbers(core: Core, count: int) -> None:
    owner = await core.principal("a@example.com")
    iid = await _instance(core, owner, InstanceStatus.CONNECTED)
    checks = NumberChecks(core.instances, core.connections)
    with pytest.raises(ValidationFailed) as err:
        await checks.check(owner, iid, [f"4915100000{n:02d}" for n in range(count)])
    assert err.value.details == {"field": "phones", "count": count}
    fifty = [f"4915100000{n:02d}" for n in range(MAX_NUMBERS_PER_CHECK)]
    assert len(await checks.check(owner, iid, fifty)) == MAX_NUMBERS_PER_CHECK


@pytest.mark.parametrize(
    "status", [InstanceStatus.CONNECTING, InstanceStatus.QR, InstanceStatus.LOGGED_OUT]
)
async def test_check_needs_a_connected_instance(core: Core, status: InstanceStatus) -> None:
    owner = await core.principal("a@example.com")
    iid = await _instance(core, owner, status)
    with pytest.raises(Conflict) as err:
        await NumberChecks(core.instances, core.connections).check(owner, iid, ["491512345678"])
    assert err.value.details["instanceStatus"] == status.value
    assert core.engine.calls == []


async def test_check_on_a_foreign_instance_is_not_found(core: Core) -> None:
    alice = await core.principal("alice@example.com")
    bob = await core.principal("bob@example.com")
    iid = await _instance(core, alice, InstanceStatus.CONNECTED)
    with pytest.raises(NotFound):
        await NumberChecks(core.instances, core.connections).check(bob, iid, ["491512345678"])
    assert core.engine.calls == []


async def test_a_number_the_engine_skipped_is_an_engine_failure_not_a_no(core: Core) -> None:
    owner = await core.principal("a@example.com")
    iid = await _instance(core, owner, InstanceStatus.CONNECTED)

    async def forgetful(instance_id: str, phones: Sequence[str]) -> list[NumberCheck]:
        return [NumberCheck(phones[0], None, False)]

    core.engine.check_numbers = forgetful  # type: ignore[method-assign]
    with pytest.raises(EngineFailure) as err:
        await NumberChecks(core.instances, core.connections).check(
            owner, iid, ["491512345678", "491512345679"]
        )
    assert err.value.details == {"missing": ["491512345679"]}


# --- worker view ----------------------------------------------------------------------------


class ListedWorkers:
    def __init__(self, workers: list[WorkerInfo]) -> None:
        self.listed = workers
        self.asked = 0

    async def workers(self) -> list[WorkerInfo]:
        self.asked += 1
        return self.listed


async def test_admin_sees_the_workers_a_user_is_forbidden(core: Core) -> None:
    worker = WorkerInfo(
        "w1", 4242, "running", ("i1", "i2"), 50_000_000, 1, datetime(2023, 1, 1, tzinfo=UTC)
    )
    port = ListedWorkers([worker])
    view = EngineWorkerView(port)
    assert await view.list(await core.principal("root@example.com", role="admin")) == [worker]
    with pytest.raises(Forbidden):
        await view.list(await core.principal("a@example.com"))
    assert port.asked == 1


async def test_the_unavailable_neonize_engine_refuses_both_with_its_reason(
    core: Core, tmp_path: Path
) -> None:
    engine = UnavailableNeonizeEngine(core.listener, tmp_path)
    for call in (engine.pairing_code("i1", "491512345678"), engine.check_numbers("i1", ["49"])):
        with pytest.raises(EngineFailure) as err:
            await call
        assert err.value.message == UNAVAILABLE_REASON
