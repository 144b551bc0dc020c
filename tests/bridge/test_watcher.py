"""Deposits are credited once, after N confirmations, across restarts and reorgs."""

from __future__ import annotations

import pytest

from bitcoinzk.bitcoin.block import Block
from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.rpc_client import BitcoinRPC, BitcoinRpcError
from bitcoinzk.bitcoin.rpc_server import RpcServer
from bitcoinzk.bitcoin.script import BURN_SCRIPT, op_return_script
from bitcoinzk.bitcoin.tx import OutPoint, TxOut
from bitcoinzk.bridge.fees import FeePolicy
from bitcoinzk.bridge.store import BridgeStore
from bitcoinzk.bridge.watcher import DepositWatcher

from .conftest import SWEEP_MARGIN, deposit, l2_key, reveal_for

ALICE = l2_key(0xA1)


def test_credit_after_confirmations_exactly_once(node, wallet, watcher, sink, signer_set, fee):
    reveal = reveal_for(wallet, ALICE)
    watcher.register(reveal)
    tx = deposit(node, wallet, reveal.script_pubkey(signer_set), 250_000)
    assert watcher.poll() == []  # 1 confirmation
    node.mine(1)
    assert watcher.poll() == []  # 2
    node.mine(1)
    [credit] = watcher.poll()  # 3
    assert (credit.recipient, credit.amount, credit.txid, credit.vout) == (
        ALICE,
        250_000 - fee,  # the deposit fee pays for its sweep
        tx.txid,
        0,
    )
    node.mine(5)
    assert watcher.poll() == []
    assert sink.calls == 1 and sink.credits == {(tx.txid, 0): (ALICE, 250_000 - fee)}


def test_exactly_once_across_restart(tmp_path, node, wallet, store, sink, signer_set, fee):
    w1 = DepositWatcher(node, store, sink, signer_set, confirmations=2, sweep_margin=SWEEP_MARGIN)
    reveal = reveal_for(wallet, ALICE)
    w1.register(reveal)
    tx = deposit(node, wallet, reveal.script_pubkey(signer_set), 80_000, mine=2)
    assert len(w1.poll()) == 1
    store.close()
    store2 = BridgeStore(tmp_path / "bridge.sqlite")
    w2 = DepositWatcher(node, store2, sink, signer_set, confirmations=2, sweep_margin=SWEEP_MARGIN)
    node.mine(3)
    assert w2.poll() == []
    assert sink.calls == 1
    # a crash after the sink call but before the status write repeats the call; the
    # sink's idempotence keeps the credit single
    store2.db.execute("UPDATE deposits SET status='seen'")
    assert len(w2.poll()) == 1
    assert len(sink.credits) == 1 and sink.credits[(tx.txid, 0)] == (ALICE, 80_000 - fee)
    store2.close()


def test_deposit_reorged_out_before_crediting_is_not_credited(
    node, wallet, watcher, sink, signer_set
):
    reveal = reveal_for(wallet, ALICE)
    watcher.register(reveal)
    fork = node.tip_hash()
    tx = deposit(node, wallet, reveal.script_pubkey(signer_set), 90_000)
    node.mine(1)
    assert watcher.poll() == []
    assert len(watcher.store.deposits()) == 1
    parent = fork
    for i in range(3):  # a heavier branch without the deposit
        b = node.build_block([], parent=parent, extra=b"reorg" + bytes([i]))
        node.submit_block(b)
        parent = b.hash
    assert node.tip_hash() == parent
    assert tx.txid in node.mempool  # back in the mempool, unconfirmed
    node.mempool.remove(tx.txid)  # and (say) never mined again
    node.index.drop_mempool_txs([tx.txid])
    assert watcher.poll() == []
    node.mine(5)
    assert watcher.poll() == []
    assert sink.calls == 0 and watcher.store.deposits() == []


def test_reorg_that_remines_the_deposit_credits_it_once(node, wallet, watcher, sink, signer_set):
    reveal = reveal_for(wallet, ALICE)
    watcher.register(reveal)
    fork = node.tip_hash()
    tx = deposit(node, wallet, reveal.script_pubkey(signer_set), 60_000)
    watcher.poll()
    parent = fork
    for i in range(2):
        b = node.build_block([], parent=parent, extra=b"r" + bytes([i]))
        node.submit_block(b)
        parent = b.hash
    assert tx.txid in node.mempool
    node.mine(3)  # re-mined at a new height
    [credit] = watcher.poll()
    assert credit.txid == tx.txid and sink.calls == 1


def test_deep_reorg_of_credited_deposit_raises_alarm(node, wallet, watcher, sink, signer_set):
    reveal = reveal_for(wallet, ALICE)
    watcher.register(reveal)
    fork = node.tip_hash()
    tx = deposit(node, wallet, reveal.script_pubkey(signer_set), 70_000, mine=3)
    assert len(watcher.poll()) == 1
    parent = fork
    for i in range(5):
        b = node.build_block([], parent=parent, extra=b"deep" + bytes([i]))
        node.submit_block(b)
        parent = b.hash
    watcher.poll()
    assert ("credited-deposit-reorged", f"{tx.txid}:0") in watcher.store.alarms()
    assert sink.calls == 1


def test_hostile_outputs_are_skipped(node, wallet, watcher, sink, signer_set, fee):
    reveal = reveal_for(wallet, ALICE)
    watcher.register(reveal)
    spk = reveal.script_pubkey(signer_set)
    outs = [
        TxOut(400, spk),  # below the minimum deposit
        TxOut(0, op_return_script(b"\xff" * 40)),
        TxOut(5_000, reveal_for(wallet, l2_key(2)).script_pubkey(signer_set)),  # never revealed
        TxOut(5_000, b"\x51\x20" + b"\x00" * 31),  # malformed witness program (31-byte push)
        TxOut(1_000_000, spk),
    ]
    tx = wallet.create_transaction(outs, 2, node)
    # consensus allows what policy would not relay: put it straight into a block
    block = node.build_block([tx])
    assert node.submit_block(block).connected
    node.mine(2)
    [credit] = watcher.poll()
    assert credit.vout == 4 and credit.amount == 1_000_000 - fee and sink.calls == 1


def test_watcher_runs_over_rpc_and_serves_deposit_address(node, wallet, store, sink, signer_set):
    with RpcServer(node) as server:
        rpc = BitcoinRPC(server.url)
        w = DepositWatcher(rpc, store, sink, signer_set, confirmations=1, sweep_margin=SWEEP_MARGIN)
        server.register("bzk_getDepositAddress", w.rpc_get_deposit_address)
        refund = wallet.new_key().internal_key
        reply = rpc.call("bzk_getDepositAddress", ALICE.hex(), refund.hex(), 30)
        assert reply["address"].startswith("bcrt1p") and reply["timelock"] == 30
        from bitcoinzk.bitcoin.script import script_from_address

        tx = deposit(node, wallet, script_from_address(reply["address"]), 42_000)
        [credit] = w.poll()
        assert credit.recipient == ALICE and credit.txid == tx.txid
        assert node.get_coin(OutPoint(tx.txid, 0)) is not None


def test_refunded_deposit_is_never_credited(node, wallet, watcher, sink, signer_set):
    from bitcoinzk.bridge.deposit import DepositReveal, refund_transaction
    from bitcoinzk.bridge.signers import SignerKey

    refund_key = SignerKey.generate()
    reveal = DepositReveal(ALICE, refund_key.pubkey[1:], timelock=20)
    watcher.register(reveal)
    tx = deposit(node, wallet, reveal.script_pubkey(signer_set), 50_000)
    node.mine(19)  # the watcher was down all this time
    refund = refund_transaction(
        reveal, signer_set, OutPoint(tx.txid, 0), 50_000, refund_key, BURN_SCRIPT, 500
    )
    assert node.submit_block(node.build_block([refund])).connected
    node.mine(5)
    assert watcher.poll() == [] and sink.calls == 0
    assert [d.status for d in watcher.store.deposits()] == ["spent_uncredited"]


class FlakySink:
    """A sequencer that is down for the first call."""

    def __init__(self) -> None:
        self.credits: list[tuple[str, int]] = []
        self.failures = 1

    def credit_deposit(self, recipient: bytes, amount: int, txid: str, vout: int) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("sequencer unavailable")
        self.credits.append((txid, vout))


def test_sink_failure_does_not_stop_the_watcher(node, wallet, store, signer_set):
    sink = FlakySink()
    w = DepositWatcher(node, store, sink, signer_set, confirmations=1, sweep_margin=SWEEP_MARGIN)
    reveal = reveal_for(wallet, ALICE)
    w.register(reveal)
    tx = deposit(node, wallet, reveal.script_pubkey(signer_set), 30_000)
    assert w.poll() == []  # the sink raised; logged, not credited
    [credit] = w.poll()  # retried
    assert sink.credits == [(tx.txid, 0)] and credit.txid == tx.txid


class ReorgingSource:
    """The embedded node as a block source, with a real reorg happening on it while the
    watcher is in the middle of a multi-block scan (just after it fetched block `at`)."""

    def __init__(self, node: RegtestNode, at: int, branch: int) -> None:
        self.node = node
        self.at = at
        self.branch = branch
        self.abandoned: list[str] = []

    def height(self) -> int:
        return self.node.height()

    def block_hash(self, height: int) -> str:
        return self.node.block_hash(height)

    def get_block(self, block_hash: str) -> Block:
        block = self.node.get_block(block_hash)
        if not self.abandoned and self.node.block_height(block_hash) == self.at:
            self.abandoned = [self.node.block_hash(h) for h in range(self.at, self.height() + 1)]
            parent = block.header.prev_hash
            for i in range(self.branch):  # a heavier branch from below `at`, without its txs
                b = self.node.build_block([], parent=parent, extra=b"midscan" + bytes([i]))
                assert self.node.submit_block(b).connected or i < self.branch - 1
                parent = b.hash
            assert self.node.tip_hash() == parent
        return block


def test_reorg_in_the_middle_of_a_scan_leaves_no_abandoned_block_recorded(
    node, wallet, store, sink, signer_set
):
    source = ReorgingSource(node, at=node.height() + 2, branch=6)
    w = DepositWatcher(source, store, sink, signer_set, confirmations=3, sweep_margin=SWEEP_MARGIN)
    reveal = reveal_for(wallet, ALICE)
    w.register(reveal)
    node.mine(1)
    tx = deposit(node, wallet, reveal.script_pubkey(signer_set), 90_000, mine=4)  # at `at`
    assert node.get_tx(tx.txid).height == source.at
    # one poll scans 5 blocks; the reorg strikes after it read block `at` (with the deposit)
    w.poll()
    assert source.abandoned and tx.txid in node.mempool
    node.mempool.remove(tx.txid)  # and it is never mined again
    node.index.drop_mempool_txs([tx.txid])
    node.mine(3)
    assert w.poll() == []
    scanned = dict(store.db.execute("SELECT height, hash FROM scanned").fetchall())
    assert all(node.block_hash(h) == bhash for h, bhash in scanned.items())
    assert not set(source.abandoned) & set(scanned.values())
    assert store.deposits() == [] and sink.calls == 0


def test_deposit_address_rpc_refuses_bad_input_with_invalid_params(
    node, wallet, store, sink, signer_set
):
    with RpcServer(node) as server:
        rpc = BitcoinRPC(server.url)
        w = DepositWatcher(rpc, store, sink, signer_set, confirmations=1, sweep_margin=SWEEP_MARGIN)
        server.register("bzk_getDepositAddress", w.rpc_get_deposit_address)
        refund = wallet.new_key().internal_key.hex()
        bad = [
            (("zz" * 32, refund), "hex"),
            ((ALICE.hex()[:-2], refund), "64 hex"),
            ((ALICE.hex(), "00" * 32), "not a valid x-only"),  # the refund could never be spent
            ((ALICE.hex(), "ff" * 32), "not a valid x-only"),
            (("ff" * 32, refund), "BabyJubJub"),
            ((ALICE.hex(), refund, 5), "below"),  # too short to be swept in time
            ((ALICE.hex(), refund, 70_000), "timelock"),
            ((ALICE.hex(), refund, "30"), "integer"),
            ((ALICE.hex(), refund, True), "integer"),
            ((123, refund), "64 hex"),
        ]
        for params, needle in bad:
            with pytest.raises(BitcoinRpcError) as e:
                rpc.call("bzk_getDepositAddress", *params)
            assert e.value.code == -32602 and needle in e.value.message, (params, e.value)
        assert store.db.execute("SELECT COUNT(*) FROM reveals").fetchone()[0] == 0
        reply = rpc.call("bzk_getDepositAddress", ALICE.hex(), refund, 30)
        policy = FeePolicy()
        assert reply["deposit_fee"] == policy.deposit_fee(signer_set) > 0
        assert reply["withdrawal_fee"] == policy.withdrawal_fee(signer_set) > 0
        assert reply["sweep_margin"] == SWEEP_MARGIN
