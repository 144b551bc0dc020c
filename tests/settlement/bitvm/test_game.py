"""The BitVM game on the regtest chain: every verdict is libbitcoinkernel's."""

from __future__ import annotations

import random

import coincurve
import pytest

from bitcoinzk.bitcoin.kernel import ScriptVerifyError
from bitcoinzk.bitcoin.mempool import MempoolRejection
from bitcoinzk.bitcoin.tx import OutPoint, Tx
from bitcoinzk.settlement.bitvm.bristol import Circuit, shipped_circuit
from bitcoinzk.settlement.bitvm.commitments import BitCommitment
from bitcoinzk.settlement.bitvm.game import (
    Challenger,
    Game,
    GameConfig,
    Prover,
    Statement,
    cheating_values,
    honest_values,
)

from .conftest import confirm, fund, rejected_in_block

CONFIG = GameConfig(stake=200_000, timelock=5, fee_rate=2)


class Setup:
    """A prover and a challenger with a game built and the stake locked."""

    def __init__(self, funded, circuit: Circuit, inputs, values, config=CONFIG, seed=1):
        self.node, self.wallet = funded
        self.prover = Prover(coincurve.PrivateKey(bytes([seed]) * 32), bytes([seed]) * 8, circuit)
        self.challenger = Challenger(coincurve.PrivateKey(b"\xcc" * 32))
        self.values = values
        statement = Statement(circuit, tuple(inputs), tuple(circuit.outputs_of(values)))
        self.game = Game.build(
            statement,
            self.prover.commitments,
            self.prover.public_key,
            self.challenger.public_key,
            config,
        )
        self.stake = fund(self.node, self.wallet, self.game.stake_script_pubkey, config.stake)
        self.payout = self.wallet.new_key().script_pubkey

    def asserts(self, values=None) -> list[Tx]:
        presigned = self.challenger.presign(self.game, self.stake)
        vals = self.values if values is None else values
        return self.prover.complete_asserts(self.game, self.stake, presigned, vals)

    def assert_on_chain(self) -> list[Tx]:
        txs = self.asserts()
        for tx in txs:
            confirm(self.node, tx)
        return txs

    def all_disproves(self, asserts: list[Tx]) -> list[Tx]:
        pre = self.challenger.read_assertion(self.game, asserts)
        return [
            self.challenger.disprove(self.game, self.stake, leaf, pre, self.payout)
            for leaf in range(1, len(self.game.tree.output.leaves))
        ]


def _kernel_refuses(node, tx: Tx) -> bool:
    spent = [node.get_coin(i.prevout).output for i in tx.vin]
    try:
        node.kernel.verify_input(tx, spent)
    except ScriptVerifyError:
        return True
    return False


def test_honest_prover_is_never_slashed_and_reclaims_only_after_the_timelock(funded):
    circuit = shipped_circuit("add_lt32")
    inputs = (0xDEADBEEF, 0x12345678)
    s = Setup(funded, circuit, inputs, circuit.evaluate_wires(inputs))
    assert s.game.statement.is_true
    s.assert_on_chain()
    asserts = [s.node.get_tx(tx.txid).tx for tx in s.asserts()]  # as read back from the chain
    disproves = s.all_disproves(asserts)
    assert len(disproves) == len(circuit.gates)
    assert all(_kernel_refuses(s.node, tx) for tx in disproves)  # every gate leaf, by the kernel
    for tx in random.Random(7).sample(disproves, 3):
        assert rejected_in_block(s.node, tx)
        with pytest.raises(MempoolRejection):
            s.node.send_raw_transaction(tx)

    reclaim = s.prover.reclaim(s.game, s.stake, s.payout)
    s.node.mine(CONFIG.timelock - 2)  # the assert is timelock-1 blocks deep: one too few
    assert rejected_in_block(s.node, reclaim)
    early = s.prover.reclaim(s.game, s.stake, s.payout, sequence=CONFIG.timelock - 1)
    assert rejected_in_block(s.node, early)  # a shorter sequence fails OP_CSV itself
    s.node.mine(1)
    confirm(s.node, reclaim)
    assert s.node.get_coin(OutPoint(reclaim.txid, 0)).output.script_pubkey == s.payout


@pytest.mark.parametrize("run", range(6))
def test_cheating_prover_is_slashed_through_the_wrong_gate(funded, run):
    rng = random.Random(1000 + run)
    circuit = shipped_circuit("add_lt8")
    inputs = (rng.getrandbits(8), rng.getrandbits(8))
    bad_gate = rng.randrange(len(circuit.gates))
    values = cheating_values(circuit, inputs, bad_gate)
    s = Setup(funded, circuit, inputs, values, seed=2 + run)
    s.assert_on_chain()
    pre = s.challenger.read_assertion(s.game, s.asserts())
    faults = s.challenger.find_faults(s.game, pre)
    assert faults == [s.game.tree.leaf_for_gate(bad_gate, CONFIG.gates_per_leaf)]
    disprove = s.challenger.disprove(s.game, s.stake, faults[0], pre, s.payout)
    # the prover cannot get its stake back first: the timeout leaf needs the timelock
    assert rejected_in_block(s.node, s.prover.reclaim(s.game, s.stake, s.payout))
    confirm(s.node, disprove)
    s.node.mine(CONFIG.timelock)
    assert rejected_in_block(s.node, s.prover.reclaim(s.game, s.stake, s.payout))  # spent


def test_grouped_leaves_catch_a_wrong_gate_and_spare_an_honest_one(funded):
    circuit = shipped_circuit("add_lt8")
    inputs = (200, 100)
    config = GameConfig(stake=200_000, timelock=5, gates_per_leaf=4, wires_per_assert=30)
    values = cheating_values(circuit, inputs, 37)
    s = Setup(funded, circuit, inputs, values, config)
    assert len(s.game.chunks) == 3  # chained asserts
    asserts = s.assert_on_chain()
    pre = s.challenger.read_assertion(s.game, asserts)
    faults = s.challenger.find_faults(s.game, pre)
    assert faults == [1 + 37 // 4]
    others = [tx for leaf, tx in enumerate(s.all_disproves(asserts), 1) if leaf not in faults]
    assert all(_kernel_refuses(s.node, tx) for tx in others)
    confirm(s.node, s.challenger.disprove(s.game, s.stake, faults[0], pre, s.payout))


def test_forged_commitments_are_rejected(funded):
    circuit = shipped_circuit("add_lt8")
    inputs = (3, 250)
    s = Setup(funded, circuit, inputs, honest_values(Statement(circuit, inputs, ())))
    honest = s.asserts()[0]

    garbage = Tx.from_bytes(honest.serialize())
    garbage.vin[0].witness[5] = b"\x42" * 20  # a wire opened with a preimage of nothing
    assert rejected_in_block(s.node, garbage)

    # the prover opens an output wire to the other bit: the statement's bit is fixed
    wrong_out = list(s.values)
    out_wire = circuit.output_wires.start
    wrong_out[out_wire] ^= 1
    forged = s.asserts(wrong_out)[0]
    assert rejected_in_block(s.node, forged)
    with pytest.raises(MempoolRejection):
        s.node.send_raw_transaction(forged)

    no_presig = Tx.from_bytes(honest.serialize())
    sig = bytearray(no_presig.vin[0].witness[-3])
    sig[0] ^= 1
    no_presig.vin[0].witness[-3] = bytes(sig)  # the challenger's presignature, altered
    assert rejected_in_block(s.node, no_presig)

    confirm(s.node, honest)
    pre = s.challenger.read_assertion(s.game, [honest])
    # a challenger who makes up a preimage (claims a wire took the other value) fails
    gate = circuit.gates[0]
    lie = list(pre)
    lie[gate.output] = b"\x01" * 20
    forged_disprove = s.challenger.disprove(s.game, s.stake, 1, lie, s.payout)
    assert _kernel_refuses(s.node, forged_disprove)
    assert rejected_in_block(s.node, forged_disprove)


def test_commitments_open_only_their_own_preimages():
    from bitcoinzk.settlement.bitvm.commitments import BitSecret, bit_from_preimage

    secret = BitSecret.derive(b"seed", 3)
    c: BitCommitment = secret.public
    assert bit_from_preimage(c, secret.reveal(0)) == 0
    assert bit_from_preimage(c, secret.reveal(1)) == 1
    assert bit_from_preimage(c, b"\x00" * 20) is None
    assert BitSecret.derive(b"seed", 4).public != c
