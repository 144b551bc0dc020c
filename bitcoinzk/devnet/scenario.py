"""The devnet and its scripted scenario behind `make demo`.

1. Alice deposits BTC on Bitcoin to her deposit address; blocks are mined;
   the bridge credits the deposit on Layer-2.
2. Alice pays Bob, Carol and Dave many Layer-2 transfers.
3. Every block is proven and committed to the rollup contract, which checks
   each proof.
4. The signers sweep the deposit into the bridge's custody once its batch is
   final; Bob withdraws to his Bitcoin address; once the batch is final on the
   contract the signers pay him on Bitcoin from the swept reserves.
5. A summary, and exit 0 only if every balance reconciles to the satoshi:
   Bitcoin, Layer-2 and the bridge's reserves (fees charged vs paid included).
"""

from __future__ import annotations

import asyncio
import random
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from bitcoinzk.bitcoin.tx import Tx, TxOut
from bitcoinzk.devnet.devnet import Devnet, dev_bitcoin_wallet, dev_key
from bitcoinzk.node.config import Config
from bitcoinzk.node.rpc.client import AsyncNodeClient
from bitcoinzk.procutil import free_port
from bitcoinzk.sequencer.store import BatchStatus
from bitcoinzk.spec.types import Transfer, Withdraw


@dataclass
class Report:
    """What the scenario measured, for the summary table and for tests."""

    deposit: int = 0
    deposit_vbytes: int = 0
    deposit_fee: int = 0
    transfers: int = 0
    transfer_fees: int = 0
    withdrawal: int = 0
    withdrawal_fee: int = 0
    payout_vbytes: int = 0
    payout_fee: int = 0
    deposit_charge: int = 0  # the bridge's deposit fee, kept from the credit
    withdrawal_charge: int = 0  # the bridge's withdrawal fee, kept from the payout
    sweep_vbytes: int = 0
    sweep_fee: int = 0
    surplus_before: int = 0
    surplus_after: int = 0
    book_balanced: bool = False  # reserves == credited - withdrawn + surplus
    reserves_on_chain: bool = False  # every reserve output is a UTXO of that value
    batches: list[dict[str, Any]] = field(default_factory=list)
    pubdata_bytes: int = 0
    btc_before: dict[str, int] = field(default_factory=dict)
    btc_after: dict[str, int] = field(default_factory=dict)
    l2_before: dict[str, int] = field(default_factory=dict)
    l2_after: dict[str, int] = field(default_factory=dict)
    bridge_before: int = 0
    bridge_after: int = 0
    sent_to: dict[str, int] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def reconciled(self) -> bool:
        return bool(self.checks) and all(self.checks.values())


async def run_devnet(
    console: Console,
    config: Config,
    data_dir: Path | None,
    transfers: int,
    scenario: bool,
) -> int:
    tmp = None
    if data_dir is None:
        if scenario:
            tmp = tempfile.TemporaryDirectory(prefix="bzk-devnet-")
            data_dir = Path(tmp.name)
        else:
            data_dir = Path(config.node.data_dir)
    if scenario and config.node.port == 8545:
        config.node.port = free_port()
    # SIGTERM stops the devnet as Ctrl-C does: the running step is cancelled and
    # everything below is shut down (workers, prover, chains), nothing left behind.
    terminated = asyncio.Event()
    main = asyncio.current_task()
    assert main is not None

    def on_sigterm() -> None:
        terminated.set()
        main.cancel()

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    devnet: Devnet | None = None
    try:
        devnet = Devnet(config, data_dir)
        await devnet.start(bitcoin_rpc=not scenario)
        # A Ray prover fleet's core worker took SIGTERM at start: take it back.
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        url = devnet.node.url
        console.print(f"[bold]bitcoinzk devnet[/bold]  L2 RPC {url}  explorer {url}explorer")
        console.print(f"data directory {data_dir}")
        if not scenario:
            if devnet.btc_rpc is not None:
                console.print(f"bitcoind-compatible RPC at {devnet.btc_rpc.url}")
            console.print("running; Ctrl-C or SIGTERM to stop")
            await _keep_mining(devnet)
            return 0
        report = await play(devnet, transfers, console)
        print_report(console, report)
        return 0 if report.reconciled else 1
    except asyncio.CancelledError:
        if not terminated.is_set():
            raise
        console.print("stopped (SIGTERM)")
        return 0 if not scenario else 1
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        if devnet is not None:
            await devnet.stop()
        if tmp is not None:
            tmp.cleanup()


async def _keep_mining(devnet: Devnet) -> None:
    while True:
        await asyncio.sleep(devnet.config.bitcoin.block_time)
        devnet.btc.mine(1)


def _btc_balance(devnet: Devnet, name: str) -> int:
    return dev_bitcoin_wallet(name).balance(devnet.btc)


def _fee_of(devnet: Devnet, tx: Tx) -> int:
    spent = 0
    for txin in tx.vin:
        lookup = devnet.btc.get_tx(txin.prevout.txid)
        assert lookup is not None
        spent += lookup.tx.vout[txin.prevout.vout].value
    return spent - sum(o.value for o in tx.vout)


async def _wait(predicate: Any, timeout: float, what: str, step: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(step)
    raise TimeoutError(f"timed out waiting for {what}")


async def play(devnet: Devnet, transfers: int, console: Console) -> Report:
    started = time.monotonic()
    report = Report()
    btc, params = devnet.btc, devnet.params
    alice_btc = dev_bitcoin_wallet("alice")
    bob_btc = dev_bitcoin_wallet("bob")
    keys = {n: dev_key(n) for n in ("alice", "bob", "carol", "dave")}
    if alice_btc.balance(btc) < 10_000_000:
        btc.mine(1, alice_btc.new_key().script_pubkey)
        btc.mine(100)
    async with aiohttp.ClientSession() as session:
        rpc = AsyncNodeClient(session, devnet.node.url)

        async def l2_balance(name: str) -> int:
            account = await rpc("bzk_getAccount", keys[name].public_key().hex())
            return int(account["balance"]) if account else 0

        report.btc_before = {n: _btc_balance(devnet, n) for n in ("alice", "bob")}
        report.l2_before = {n: await l2_balance(n) for n in keys}
        report.l2_before["fees"] = (await rpc("bzk_getAccount", params.fee_account))["balance"]
        reserves = devnet.reserves()
        report.bridge_before, report.surplus_before = reserves.total, reserves.surplus
        report.deposit_charge = devnet.fees.deposit_fee(devnet.signer_set)
        report.withdrawal_charge = devnet.fees.withdrawal_fee(devnet.signer_set)

        # 1. Deposit on Bitcoin.
        report.deposit = 5_000_000
        reveal = devnet.deposit_address(keys["alice"], alice_btc)
        tx = alice_btc.create_transaction(
            [TxOut(report.deposit, reveal.script_pubkey(devnet.signer_set))], 2, btc
        )
        btc.send_raw_transaction(tx)
        report.deposit_vbytes, report.deposit_fee = tx.vsize, _fee_of(devnet, tx)
        console.print(
            f"1. Alice deposits {report.deposit} sats to "
            f"{reveal.address(devnet.signer_set)} (tx {tx.txid[:16]}…, {tx.vsize} vB)"
        )
        btc.mine(devnet.config.bridge.deposit_confirmations)
        target = report.l2_before["alice"] + report.deposit - report.deposit_charge
        await _wait(lambda: _at_least(l2_balance, "alice", target), 120, "the deposit credit")
        console.print(
            f"   credited on Layer-2 after "
            f"{devnet.config.bridge.deposit_confirmations} confirmations"
        )

        # 2. Transfers.
        rng = random.Random(11)
        alice = await rpc("bzk_getAccount", keys["alice"].public_key().hex())
        nonce = alice["pending_nonce"]
        hashes = []
        for _ in range(transfers):
            to = "bob" if not report.sent_to else rng.choice(("bob", "carol", "dave"))
            amount, fee = rng.randrange(50, 400) * 1_000, rng.choice((1, 2, 5))
            op = Transfer(alice["index"], 0, keys[to].public_key(), amount, fee, nonce)
            hashes.append(
                (
                    await rpc(
                        "bzk_sendTransaction", op.signed(keys["alice"], params.chain_id).to_json()
                    )
                )["hash"]
            )
            nonce += 1
            report.transfer_fees += fee
            report.sent_to[to] = report.sent_to.get(to, 0) + amount
        report.transfers = transfers
        console.print(f"2. Alice sends {transfers} Layer-2 transfers")
        await _wait(lambda: _all_included(rpc, hashes), 300, "the transfers")

        # 3. Bob withdraws.
        bob = await rpc("bzk_getAccount", keys["bob"].public_key().hex())
        report.withdrawal, report.withdrawal_fee = max(1_000, bob["balance"] // 2000 * 1000), 10
        spk = bob_btc.new_key().script_pubkey
        wop = Withdraw(
            bob["index"], spk, report.withdrawal, report.withdrawal_fee, bob["pending_nonce"]
        )
        whash = (
            await rpc("bzk_sendTransaction", wop.signed(keys["bob"], params.chain_id).to_json())
        )["hash"]
        console.print(f"3. Bob withdraws {report.withdrawal} sats to his Bitcoin address")
        await _wait(lambda: _all_included(rpc, [whash]), 120, "the withdrawal")

        # 4. Proofs and settlement, with progress bars.
        head = await rpc("bzk_blockNumber")
        await _follow_batches(rpc, head, console)
        report.batches = [await rpc("bzk_getBatch", n) for n in range(1, head + 1)]
        blocks = [await rpc("bzk_getBlock", n, False) for n in range(1, head + 1)]
        report.pubdata_bytes = sum(len(b["pubdata"]) // 2 - 1 - 4 for b in blocks)

        # 5. The sweep of the deposit into custody, then the payout from the swept
        # reserves on Bitcoin once the contract says the batch is final.
        await _wait(lambda: _swept(devnet), 120, "the sweep of the deposit")
        sweep = devnet.sweeps[-1]
        report.sweep_vbytes, report.sweep_fee = sweep.tx.vsize, sweep.fee
        btc.mine(1)
        console.print(
            f"   signers swept the deposit into custody: {sweep.tx.txid[:16]}… "
            f"({sweep.tx.vsize} vB)"
        )
        await _wait(lambda: _payout(devnet), 120, "the bridge payout")
        payout = devnet.payouts[-1]
        report.payout_vbytes, report.payout_fee = payout.tx.vsize, _fee_of(devnet, payout.tx)
        btc.mine(1)
        console.print(
            f"4. signers paid Bob on Bitcoin: {payout.tx.txid[:16]}… ({payout.tx.vsize} vB)"
        )

        report.btc_after = {n: _btc_balance(devnet, n) for n in ("alice", "bob")}
        report.l2_after = {n: await l2_balance(n) for n in keys}
        report.l2_after["fees"] = (await rpc("bzk_getAccount", params.fee_account))["balance"]
        reserves = devnet.reserves()
        report.bridge_after, report.surplus_after = reserves.total, reserves.surplus
        report.book_balanced = reserves.total == reserves.obligations + reserves.surplus
        chain = devnet.payout_builder.chain
        report.reserves_on_chain = all(
            (out := chain.utxo(op)) is not None and out.value == value
            for op, value in reserves.outpoints
        )
    report.seconds = time.monotonic() - started
    _reconcile(report)
    return report


async def _at_least(balance: Any, name: str, target: int) -> bool:
    return bool(await balance(name) >= target)


async def _all_included(rpc: AsyncNodeClient, hashes: list[str]) -> bool:
    for h in hashes:
        receipt = await rpc("bzk_getTransactionReceipt", h)
        if receipt is None or receipt["status"] == "pending":
            return False
        if receipt["status"] != "included":
            raise RuntimeError(f"transaction {h} {receipt['status']}: {receipt.get('error')}")
    return True


async def _payout(devnet: Devnet) -> bool:
    return bool(devnet.payouts)


async def _swept(devnet: Devnet) -> bool:
    return bool(devnet.sweeps)


async def _follow_batches(rpc: AsyncNodeClient, head: int, console: Console) -> None:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        proven = progress.add_task("proving   ", total=head)
        committed = progress.add_task("committing", total=head)
        final = progress.add_task("final     ", total=head)
        while True:
            statuses = [(await rpc("bzk_getBatch", n))["status"] for n in range(1, head + 1)]
            if BatchStatus.FAILED in statuses:
                raise RuntimeError(f"a batch failed: {statuses}")
            settled = (BatchStatus.COMMITTED, BatchStatus.FINAL)
            progress.update(
                proven, completed=sum(s in (BatchStatus.PROVEN, *settled) for s in statuses)
            )
            progress.update(committed, completed=sum(s in settled for s in statuses))
            progress.update(final, completed=statuses.count(BatchStatus.FINAL))
            if all(s == BatchStatus.FINAL for s in statuses):
                return
            await asyncio.sleep(0.3)


def _reconcile(r: Report) -> None:
    """Bitcoin, Layer-2 and fees must agree to the sat."""
    delta = {n: r.l2_after[n] - r.l2_before[n] for n in r.l2_before}
    r.checks = {
        "Alice on Bitcoin: - deposit - its tx fee": r.btc_after["alice"]
        == r.btc_before["alice"] - r.deposit - r.deposit_fee,
        "Bob on Bitcoin: + withdrawal - bridge withdrawal fee": r.btc_after["bob"]
        == r.btc_before["bob"] + r.withdrawal - r.withdrawal_charge,
        "Alice on L2: + deposit - bridge deposit fee - sent - fees": delta["alice"]
        == r.deposit - r.deposit_charge - sum(r.sent_to.values()) - r.transfer_fees,
        "Bob on L2: + received - withdrawal - its fee": delta["bob"]
        == r.sent_to.get("bob", 0) - r.withdrawal - r.withdrawal_fee,
        "Carol and Dave on L2: + received": delta["carol"] == r.sent_to.get("carol", 0)
        and delta["dave"] == r.sent_to.get("dave", 0),
        "operator: + every L2 fee": delta["fees"] == r.transfer_fees + r.withdrawal_fee,
        "L2 supply: + deposit - bridge deposit fee - withdrawal": sum(delta.values())
        == r.deposit - r.deposit_charge - r.withdrawal,
        "bridge reserves: + deposit - sweep fee - paid withdrawal - payout fee": r.bridge_after
        - r.bridge_before
        == r.deposit - r.sweep_fee - (r.withdrawal - r.withdrawal_charge) - r.payout_fee,
        "bridge surplus: + fees charged - fees paid, never negative": r.surplus_after
        - r.surplus_before
        == r.deposit_charge - r.sweep_fee + r.withdrawal_charge - r.payout_fee
        and r.deposit_charge >= r.sweep_fee
        and r.withdrawal_charge >= r.payout_fee,
        "reserves = Layer-2 obligations + surplus, each reserve output on Bitcoin": r.book_balanced
        and r.reserves_on_chain,
    }


def print_report(console: Console, r: Report) -> None:
    proof_times = [b.get("prove_s", 0.0) for b in r.batches]
    gas = [b.get("commit_gas", 0) for b in r.batches]
    table = Table(title="devnet summary")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("transfers", f"{r.transfers}"),
        ("batches (proven + committed + final)", f"{len(r.batches)}"),
        (
            "proof time per batch (mean / max)",
            f"{sum(proof_times) / max(1, len(proof_times)):.1f} s"
            f" / {max(proof_times, default=0):.1f} s",
        ),
        ("settlement gas per transfer", f"{sum(gas) / max(1, r.transfers + 2):,.0f}"),
        ("pubdata bytes per operation", f"{r.pubdata_bytes / max(1, r.transfers + 2):.1f}"),
        ("Bitcoin deposit", f"{r.deposit_vbytes} vB, fee {r.deposit_fee} sats"),
        ("Bitcoin sweep", f"{r.sweep_vbytes} vB, fee {r.sweep_fee} sats"),
        ("Bitcoin payout", f"{r.payout_vbytes} vB, fee {r.payout_fee} sats"),
        (
            "bridge fees charged (deposit / withdrawal)",
            f"{r.deposit_charge} / {r.withdrawal_charge} sats",
        ),
        ("scenario time", f"{r.seconds:.1f} s"),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    balances = Table(title="balances (sats)")
    for col in ("who", "Bitcoin before", "Bitcoin after", "Layer-2 before", "Layer-2 after"):
        balances.add_column(col, justify="right")
    for n in ("alice", "bob", "carol", "dave", "fees"):
        balances.add_row(
            n,
            str(r.btc_before.get(n, "")),
            str(r.btc_after.get(n, "")),
            str(r.l2_before.get(n, "")),
            str(r.l2_after.get(n, "")),
        )
    balances.add_row("bridge", "", str(r.bridge_after), "", "")
    console.print(balances)
    for check, ok in r.checks.items():
        console.print(f"  {'[green]ok[/green]' if ok else '[red]FAIL[/red]'}  {check}")
    console.print(
        "[bold green]reconciled[/bold green]"
        if r.reconciled
        else "[bold red]NOT reconciled[/bold red]"
    )
