"""The Rollup's forced-withdrawal queue: what forceWithdraw accepts, the digest it stores
(the same as the Python spec's and circomlib MiMC7's), deadlines and forcedDue()."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bitcoinzk.crypto.eddsa import Signature
from bitcoinzk.settlement.evm.client import EmbeddedClient, EvmClient, Web3Client
from bitcoinzk.settlement.evm.rollup import ForcedRejected, Rollup, deploy
from bitcoinzk.spec.types import ForcedWithdraw, Withdraw
from tests.settlement.evm.conftest import ALICE, PARAMS, SPK, Batches

DEADLINE = 120


@pytest.fixture
def rollup(batches: Batches, client: EvmClient) -> Rollup:
    """On py-evm and on anvil (conftest's `client`)."""
    return deploy(client, batches.vk, PARAMS, batches.genesis.root, forced_deadline=DEADLINE)


def request(
    amount: int = 50_000, fee: int = 20, nonce: int = 0, spk: bytes = SPK
) -> ForcedWithdraw:
    w = Withdraw(1, spk, amount, fee, nonce).signed(ALICE, PARAMS.chain_id)
    assert w.signature is not None
    return ForcedWithdraw(0, w.sender, w.script_pubkey, w.amount, w.fee, w.nonce, w.signature)


def advance(rollup: Rollup, seconds: int) -> None:
    """Move the chain's clock (block.timestamp) forward instead of sleeping."""
    if isinstance(rollup.client, EmbeddedClient):
        rollup.client.chain.env.time_travel(seconds=seconds)
        return
    assert isinstance(rollup.client, Web3Client)
    rollup.client.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    rollup.client.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def test_queue_stores_the_digest_and_deadline_in_order(rollup: Rollup) -> None:
    assert (rollup.forced_head(), rollup.forced_tail(), rollup.forced_due()) == (0, 0, False)
    first = rollup.force_withdraw(request())
    second = rollup.force_withdraw(request(nonce=1, spk=bytes([0x51, 0x20]) + bytes(32)))
    assert (first.index, second.index) == (0, 1)
    assert rollup.forced_tail() == 2 and rollup.forced_head() == 0
    assert rollup.forced_digest(0) == request().digest()
    assert (
        rollup.forced_digest(1)
        == replace(request(nonce=1, spk=bytes([0x51, 0x20]) + bytes(32)), index=1).digest()
    )
    assert rollup.forced_deadline(0) == first.deadline
    events = rollup.forced_requests()
    assert [e.index for e in events] == [0, 1]
    assert replace(events[0], index=0) == request()
    print(f"forced_request_gas={first.gas_used}")


def test_forced_due_after_the_deadline_only(rollup: Rollup) -> None:
    rollup.force_withdraw(request())
    assert not rollup.forced_due()
    advance(rollup, DEADLINE - 5)
    assert not rollup.forced_due()
    advance(rollup, 10)
    assert rollup.forced_due()


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: replace(r, sender=2**24), "account index is not 24-bit"),
        (lambda r: replace(r, script_pubkey=b""), "empty script_pubkey"),
        (lambda r: replace(r, amount=999), "amount out of range"),
        (lambda r: replace(r, amount=2**48), "amount out of range"),
        (lambda r: replace(r, fee=9), "fee is not representable"),
        (lambda r: replace(r, nonce=2**32), "nonce is not 32-bit"),
        (lambda r: replace(r, signature=replace(r.signature, s=2**252)), "S >= l"),
        (lambda r: replace(r, signature=replace(r.signature, r8x=1)), "not on BabyJubJub"),
        (lambda r: replace(r, signature=Signature(2**254, 1, 1)), "R8 not in the field"),
    ],
)
def test_garbage_a_proof_could_not_reject_is_refused_and_changes_nothing(
    rollup: Rollup, mutate: object, reason: str
) -> None:
    assert callable(mutate)
    with pytest.raises(ForcedRejected, match=reason):
        rollup.force_withdraw(mutate(request()))
    assert (rollup.forced_tail(), rollup.forced_head()) == (0, 0)
    assert rollup.forced_requests() == []
