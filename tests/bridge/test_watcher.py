"""Deposits are credited once, after N confirmations, across restarts and reorgs."""

from __future__ import annotations

from bitcoinzk.bitcoin.node import BURN_SCRIPT
from bitcoinzk.bitcoin.rpc_client import BitcoinRPC
from bitcoinzk.bitcoin.rpc_server import RpcServer
from bitcoinzk.bitcoin.script import op_return_script
from bitcoinzk.bitcoin.tx import OutPoint, TxOut
from bitcoinzk.bridge.store import BridgeStore
from bitcoinzk.bridge.watcher import DepositWatcher

from .conftest import deposit, l2_key, reveal_for

ALICE = l2_key(0xA1)


def test_credit_after_confirmations_exactly_once(node, wallet, watcher, sink, signer_set):
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
        250_000,
        tx.txid,
        0,
    )
    node.mine(5)
    assert watcher.poll() == []
    assert sink.calls == 1 and sink.credits == {(tx.txid, 0): (ALICE, 250_000)}


def test_exactly_once_across_restart(tmp_path, node, wallet, store, sink, signer_set):
    w1 = DepositWatcher(node, store, sink, signer_set, confirmations=2)
    reveal = reveal_for(wallet, ALICE)
    w1.register(reveal)
    tx = deposit(node, wallet, reveal.script_pubkey(signer_set), 80_000, mine=2)
    assert len(w1.poll()) == 1
    store.close()
    store2 = BridgeStore(tmp_path / "bridge.sqlite")
    w2 = DepositWatcher(node, store2, sink, signer_set, confirmations=2)
    node.mine(3)
    assert w2.poll() == []
    assert sink.calls == 1
    # a crash after the sink call but before the status write repeats the call; the
    # sink's idempotence keeps the credit single
    store2.db.execute("UPDATE deposits SET status='seen'")
    assert len(w2.poll()) == 1
    assert len(sink.credits) == 1 and sink.credits[(tx.txid, 0)] == (ALICE, 80_000)
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


def test_hostile_outputs_are_skipped(node, wallet, watcher, sink, signer_set):
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
    assert credit.vout == 4 and credit.amount == 1_000_000 and sink.calls == 1


def test_watcher_runs_over_rpc_and_serves_deposit_address(node, wallet, store, sink, signer_set):
    with RpcServer(node) as server:
        rpc = BitcoinRPC(server.url)
        w = DepositWatcher(rpc, store, sink, signer_set, confirmations=1)
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
    reveal = DepositReveal(ALICE, refund_key.pubkey[1:], timelock=1)
    watcher.register(reveal)
    tx = deposit(node, wallet, reveal.script_pubkey(signer_set), 50_000)
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
    w = DepositWatcher(node, store, sink, signer_set, confirmations=1)
    reveal = reveal_for(wallet, ALICE)
    w.register(reveal)
    tx = deposit(node, wallet, reveal.script_pubkey(signer_set), 30_000)
    assert w.poll() == []  # the sink raised; logged, not credited
    [credit] = w.poll()  # retried
    assert sink.credits == [(tx.txid, 0)] and credit.txid == tx.txid
