"""`bzk bench chaos`: kill -9 a running devnet at chosen moments; no money may move wrong.

A devnet (`bzk devnet --keep-running`) runs in a subprocess on a scratch data
directory at the smallest circuit shape, on ports of its own. A driver makes
deposits on its embedded Bitcoin chain (through the bitcoind-compatible RPC,
with its own wallet), Layer-2 transfers and withdrawals (through the node's
JSON-RPC), while the harness watches the node's batches and the bridge's
store and kill -9s the devnet process in each phase it can recognise: block
production, proving, committing, sweeping, paying out, and at random moments.
After every kill it checks for child processes that outlived their parent,
restarts the devnet on the same data directory and times its recovery.

At the end it lets everything settle and audits Bitcoin, Layer-2 and the
bridge from the outside (`audit`), then prints one JSON object.  The
accounting functions (`walk_bridge`, `audit`) are pure, so tests can feed
them a double payout and see it counted.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console

import bitcoinzk
from bitcoinzk.bitcoin.remote import RemoteBitcoin
from bitcoinzk.bitcoin.rpc_client import BitcoinRPC, BitcoinRpcError, RPCTransportError
from bitcoinzk.bitcoin.script import script_from_address
from bitcoinzk.bitcoin.tx import OutPoint, Tx, TxOut
from bitcoinzk.bitcoin.wallet import BitcoinWallet
from bitcoinzk.bridge.deposit import DepositReveal, refund_transaction
from bitcoinzk.bridge.signers import SignerKey, SignerSet
from bitcoinzk.bridge.store import BridgeStore
from bitcoinzk.crypto.eddsa import PrivateKey
from bitcoinzk.node.config import BridgeSection
from bitcoinzk.node.rpc.client import L2RpcError, NodeClient
from bitcoinzk.procutil import free_port
from bitcoinzk.sequencer.store import BatchStatus
from bitcoinzk.spec.types import Transfer, Withdraw

PHASES = ("block", "prove", "commit", "sweep", "payout", "worker", "random")
STAGES = (BatchStatus.PENDING, BatchStatus.PROVING, BatchStatus.PROVEN, BatchStatus.COMMITTED)


def _stage(status: str | None) -> int:
    """How far a batch got; a missing (final) batch is past every stage, a failed one
    is stuck before all of them."""
    if status is None:
        return len(STAGES)
    return STAGES.index(status) if status in STAGES else -1


# ---------------------------------------------------------------------------------------
# Accounting: pure functions over what Bitcoin and Layer-2 say.
# ---------------------------------------------------------------------------------------


def outpoint_key(txid: str, vout: int) -> str:
    return f"{txid}:{vout}"


@dataclass
class BridgeFlows:
    """Every satoshi that entered, left or stayed in the bridge's scripts on Bitcoin.

    A *bridge transaction* spends at least one bridge output (deposit address or
    custody script).  Its outputs are internal (back to a bridge script),
    payouts (to a withdrawal script) or leaks (anything else: a refund of a
    credited deposit, a theft)."""

    inflow: dict[str, int] = field(default_factory=dict)
    """Outputs paying a bridge script from a transaction that is not the bridge's."""
    payouts: dict[bytes, list[tuple[str, int]]] = field(default_factory=dict)
    """Withdrawal script -> [(txid, value)] paid by bridge transactions."""
    leaked: list[tuple[str, int, bytes]] = field(default_factory=list)
    fees: int = 0
    external_in: int = 0
    """Inputs of bridge transactions that were not bridge outputs (none expected)."""
    unspent: dict[str, int] = field(default_factory=dict)
    bridge_txs: int = 0


def walk_bridge(
    txs: Iterable[Tx], bridge_spks: set[bytes], withdrawal_spks: set[bytes]
) -> BridgeFlows:
    """Follow the bridge's outputs through `txs` (every transaction of the chain, in
    chain order).  Raises if a bridge transaction spends an output never seen."""
    flows = BridgeFlows()
    values: dict[str, int] = {}
    for tx in txs:
        txid = tx.txid
        spent_bridge = 0
        spent_all = 0
        if not tx.is_coinbase():
            for txin in tx.vin:
                key = outpoint_key(txin.prevout.txid, txin.prevout.vout)
                if key in flows.unspent:
                    spent_bridge += flows.unspent.pop(key)
                value = values.pop(key, None)
                spent_all += value if value is not None else 0
                if value is None and spent_bridge:
                    raise ValueError(f"{txid} spends {key}, never seen on this chain")
        is_bridge = spent_bridge > 0
        if is_bridge:
            flows.bridge_txs += 1
            flows.external_in += spent_all - spent_bridge
            flows.fees += spent_all - sum(o.value for o in tx.vout)
        for n, out in enumerate(tx.vout):
            key = outpoint_key(txid, n)
            values[key] = out.value
            if out.script_pubkey in bridge_spks:
                flows.unspent[key] = out.value
                if not is_bridge:
                    flows.inflow[key] = out.value
            elif is_bridge and out.script_pubkey in withdrawal_spks:
                flows.payouts.setdefault(out.script_pubkey, []).append((txid, out.value))
            elif is_bridge:
                flows.leaked.append((txid, out.value, out.script_pubkey))
    return flows


@dataclass
class L2Facts:
    """What the Layer-2 node says, read over its JSON-RPC after the last recovery."""

    credits: list[tuple[str, int]]
    """(outpoint, amount) of every Deposit operation in every block."""
    withdrawals: list[tuple[bytes, int]]
    """(script_pubkey, amount) of every Withdraw operation in every block."""
    total_balance: int
    """Sum of every account's balance, the operator's fee account included."""
    receipts: dict[str, str | None]
    """Receipt status of every transaction the RPC acknowledged (None: unknown)."""


@dataclass
class Audit:
    acked: int
    acked_lost: int
    acked_failed: int
    deposits: int
    double_credits: int
    unbacked_credits: int
    uncredited_deposits: int
    withdrawals: int
    double_payouts: int
    overpaid_sats: int
    unpaid_withdrawals: int
    leaked_sats: int
    inflow_sats: int
    paid_sats: int
    btc_fees_sats: int
    reserves_sats: int
    l2_total_sats: int
    owed_sats: int
    uncredited_sats: int
    surplus_sats: int
    btc_conserved: bool
    l2_conserved: bool
    reconciled: bool

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def audit(
    flows: BridgeFlows, reserves: int, l2: L2Facts, deposit_spks_inflow: dict[str, int]
) -> Audit:
    """Reconcile Bitcoin, Layer-2 and the bridge (the equations are in docs/security.md).

    `reserves` is the value of the bridge scripts' unspent outputs as the chain's
    UTXO set reports it (not from the walk); `deposit_spks_inflow` the inflow that
    paid deposit addresses (outpoint -> sats): what may be credited."""
    credit_count = Counter(op for op, _ in l2.credits)
    double_credits = sum(1 for n in credit_count.values() if n > 1)
    unbacked = sum(1 for op in credit_count if op not in deposit_spks_inflow)
    uncredited = {op: v for op, v in deposit_spks_inflow.items() if op not in credit_count}

    expected: dict[bytes, list[int]] = {}
    for spk, amount in l2.withdrawals:
        expected.setdefault(spk, []).append(amount)
    double_payouts = overpaid = unpaid = owed = 0
    for spk, amounts in expected.items():
        paid = flows.payouts.get(spk, [])
        if len(paid) > len(amounts):
            double_payouts += len(paid) - len(amounts)
        overpaid += max(0, sum(v for _, v in paid) - sum(amounts))
        missing = len(amounts) - len(paid)
        if missing > 0:
            unpaid += missing
            owed += sum(sorted(amounts)[-missing:])
    # Payouts to scripts no withdrawal asked for are not payouts: they are leaks.
    stray = [(t, v, s) for s, paid in flows.payouts.items() if s not in expected for t, v in paid]

    paid_sats = sum(v for s, paid in flows.payouts.items() if s in expected for _, v in paid)
    leaked = sum(v for _, v, _ in flows.leaked) + sum(v for _, v, _ in stray)
    inflow = sum(flows.inflow.values()) + flows.external_in
    btc_conserved = (
        inflow - paid_sats - flows.fees - leaked == reserves == sum(flows.unspent.values())
    )
    credited = sum(a for _, a in l2.credits)
    withdrawn = sum(a for _, a in l2.withdrawals)
    l2_conserved = l2.total_balance == credited - withdrawn
    uncredited_sats = sum(uncredited.values())
    surplus = reserves - (l2.total_balance + owed + uncredited_sats)
    acked_lost = sum(1 for s in l2.receipts.values() if s is None or s == "pending")
    acked_failed = sum(1 for s in l2.receipts.values() if s not in (None, "pending", "included"))
    reconciled = (
        btc_conserved
        and l2_conserved
        and surplus >= 0
        and leaked == 0
        and overpaid == 0
        and double_payouts == 0
        and double_credits == 0
        and unbacked == 0
    )
    return Audit(
        acked=len(l2.receipts),
        acked_lost=acked_lost,
        acked_failed=acked_failed,
        deposits=len(deposit_spks_inflow),
        double_credits=double_credits,
        unbacked_credits=unbacked,
        uncredited_deposits=len(uncredited),
        withdrawals=len(l2.withdrawals),
        double_payouts=double_payouts,
        overpaid_sats=overpaid,
        unpaid_withdrawals=unpaid,
        leaked_sats=leaked,
        inflow_sats=inflow,
        paid_sats=paid_sats,
        btc_fees_sats=flows.fees,
        reserves_sats=reserves,
        l2_total_sats=l2.total_balance,
        owed_sats=owed,
        uncredited_sats=uncredited_sats,
        surplus_sats=surplus,
        btc_conserved=btc_conserved,
        l2_conserved=l2_conserved,
        reconciled=reconciled,
    )


# ---------------------------------------------------------------------------------------
# Processes: the devnet in a session of its own, its descendants, orphans.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcId:
    pid: int
    start: int
    """/proc starttime: tells a reused pid apart from the process we saw."""
    cmd: str = ""


def _stat(pid: int) -> tuple[int, int, str, int] | None:
    """(ppid, pgid, state, starttime) from /proc/<pid>/stat, None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces
    return int(rest[1]), int(rest[2]), rest[0], int(rest[19])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    except OSError:
        return ""


def process_tree(root: int) -> list[ProcId]:
    """Live descendants of `root`, and members of its process group (its session
    leader's children keep the group after they are reparented)."""
    stats: dict[int, tuple[int, int, str, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            stats[int(entry)] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    found |= {pid for pid, (_, pgid, _, _) in stats.items() if pgid == root and pid != root}
    return [
        ProcId(pid, stats[pid][3], _cmdline(pid)) for pid in sorted(found) if stats[pid][2] != "Z"
    ]


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def alive(procs: Iterable[ProcId]) -> list[ProcId]:
    out = []
    for p in procs:
        st = _stat(p.pid)
        if st is not None and st[3] == p.start and st[2] != "Z":
            out.append(p)
    return out


class DevnetProcess:
    """`bzk devnet --keep-running` on a data directory, started and killed at will."""

    def __init__(self, workdir: Path, config: Path, node_port: int, btc_port: int) -> None:
        self.workdir = workdir
        self.config = config
        self.data_dir = workdir / "data"
        self.log_path = workdir / "devnet.log"
        self.node_url = f"http://127.0.0.1:{node_port}/"
        self.btc_url = f"http://127.0.0.1:{btc_port}/"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        root = str(Path(bitcoinzk.__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start {self.starts} at {time.time():.3f}\n".encode())
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bitcoinzk.cli",
                    "devnet",
                    "--keep-running",
                    "--data-dir",
                    str(self.data_dir),
                    "--config",
                    str(self.config),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # our kills and signals reach it alone
                env=env,
                cwd=self.workdir,
            )
        self.starts += 1

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout: float) -> bool:
        """Both RPC servers answer."""
        node = NodeClient(self.node_url, timeout=2)
        btc = BitcoinRPC(self.btc_url, timeout=2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                return False
            try:
                node.call("bzk_chainInfo")
                btc.getblockcount()
                return True
            except (OSError, L2RpcError, BitcoinRpcError, RPCTransportError, ValueError):
                time.sleep(0.1)
        return False

    def kill9(self) -> list[ProcId]:
        """SIGKILL the devnet process alone; returns its descendants as they were."""
        assert self.proc is not None
        tree = process_tree(self.proc.pid)
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        return tree

    def stop(self, timeout: float = 30.0) -> list[ProcId]:
        """SIGTERM, as an operator would stop it; SIGKILL if it does not go."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        tree = process_tree(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        return tree


def reap_orphans(tree: list[ProcId], grace: float) -> list[ProcId]:
    """Those of `tree` still running `grace` seconds after their parent died; they
    are killed (by pid: they are ours) so they do not pile up, and returned."""
    deadline = time.monotonic() + grace
    left = alive(tree)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = alive(left)
    for p in left:
        with contextlib.suppress(OSError):
            os.kill(p.pid, signal.SIGKILL)
    return left


# ---------------------------------------------------------------------------------------
# State the harness watches: batches in node.sqlite, the bridge's store (read-only).
# ---------------------------------------------------------------------------------------


def _read(path: Path, query: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """One short read-only look; an error (file busy or missing) reads as nothing."""
    if not path.exists():
        return []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return list(db.execute(query, args).fetchall())
        finally:
            db.close()
    except sqlite3.Error:
        return []


@dataclass
class Watch:
    data_dir: Path

    @property
    def node_db(self) -> Path:
        return self.data_dir / "l2" / "node.sqlite"

    @property
    def bridge_db(self) -> Path:
        return self.data_dir / "bridge" / "bridge.sqlite"

    def batches(self) -> dict[int, str]:
        """Every batch that is not final yet, by number."""
        rows = _read(self.node_db, "SELECT number, status FROM batches WHERE status != 'final'")
        return {int(n): str(s) for n, s in rows}

    def head(self) -> int:
        rows = _read(self.node_db, "SELECT max(number) FROM blocks")
        return int(rows[0][0] or 0) if rows else 0

    def mempool(self) -> int:
        rows = _read(self.node_db, "SELECT count(*) FROM mempool")
        return int(rows[0][0]) if rows else 0

    def count(self, table: str) -> int:
        rows = _read(self.bridge_db, f"SELECT count(*) FROM {table}")
        return int(rows[0][0]) if rows else 0

    def tables(self) -> set[str]:
        rows = _read(self.bridge_db, "SELECT name FROM sqlite_master WHERE type='table'")
        return {str(r[0]) for r in rows}

    def sweep_supported(self) -> bool:
        return "sweeps" in self.tables()


# ---------------------------------------------------------------------------------------
# The driver: deposits, transfers and withdrawals through the real RPCs, kills or not.
# ---------------------------------------------------------------------------------------

DOWN = (OSError, RPCTransportError)


def _split(outpoint: str) -> tuple[str, int]:
    txid, vout = outpoint.split(":")
    return txid, int(vout)


def deposit_hash(txid: str, vout: int) -> str:
    """The Layer-2 hash of the deposit of this outpoint (`Deposit.tx_hash`)."""
    raw = hashlib.sha256(b"bzk-deposit" + bytes.fromhex(txid) + vout.to_bytes(4, "big"))
    return "0x" + raw.hexdigest()


def _key(seed: int, name: str) -> bytes:
    return hashlib.sha256(f"bzk-chaos-{seed}-{name}".encode()).digest()


@dataclass
class Deposited:
    outpoint: str
    amount: int
    user: int
    refund: SignerKey
    reveal: DepositReveal


class Driver:
    """The users.  Every transaction is signed once and resent unchanged after a
    failure, so its hash tells whether the node took it: an acknowledgement is
    the RPC's reply with the hash, and only those count as acknowledged."""

    def __init__(self, devnet: DevnetProcess, seed: int, users: int, chain_id: int) -> None:
        self.devnet = devnet
        self.rng = random.Random(seed)
        self.seed = seed
        self.chain_id = chain_id
        self.node = NodeClient(devnet.node_url, timeout=10)
        self.btc = BitcoinRPC(devnet.btc_url, timeout=30)
        self.keys = [PrivateKey(_key(seed, f"user{i}")) for i in range(users)]
        self.funder = BitcoinWallet.from_seed(_key(seed, "funder"))
        self.refunds = BitcoinWallet.from_seed(_key(seed, "refunds"))  # where refunds would go
        self.payee = BitcoinWallet.from_seed(_key(seed, "payee"))
        self.index: dict[int, int] = {}  # user -> L2 account index
        self.nonce: dict[int, int] = {}
        self.acked: dict[str, Transfer | Withdraw] = {}
        self.admitted_unacked: set[str] = set()
        self.rejected: Counter[str] = Counter()
        self.deposits: list[Deposited] = []
        self.deposit_spks: set[bytes] = set()
        self.withdrawal_spks: set[bytes] = set()
        self.withdrawals: list[str] = []  # acked withdrawal hashes
        self.want_withdrawal = threading.Event()
        self.hold = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.max_lag = 4

    # --- Bitcoin --------------------------------------------------------------------------

    def _btc_retry(self, fn: Callable[[], Any], what: str, timeout: float = 300) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return fn()
            except DOWN:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"Bitcoin RPC down during {what}") from None
                time.sleep(0.3)

    def fund(self) -> None:
        remote = RemoteBitcoin(self.btc)
        spk = self.funder.new_key().script_pubkey
        remote.mine(1, spk)
        remote.mine(100)

    def deposit(self, users: list[int], amount: int) -> None:
        """One Bitcoin transaction paying a fresh deposit address of each user."""
        outputs = []
        reveals: list[tuple[SignerKey, DepositReveal]] = []
        for u in users:
            refund = SignerKey(_key(self.seed, f"refund{len(self.deposits) + len(reveals)}"))
            recipient = self.keys[u].public_key().to_bytes()
            reply = self._btc_retry(
                partial(
                    self.btc.call, "bzk_getDepositAddress", recipient.hex(), refund.pubkey[1:].hex()
                ),
                "bzk_getDepositAddress",
            )
            spk = script_from_address(str(reply["address"]), "regtest")
            self.deposit_spks.add(spk)
            outputs.append(TxOut(amount, spk))
            reveals.append((refund, DepositReveal(recipient, refund.pubkey[1:], reply["timelock"])))
        remote = RemoteBitcoin(self.btc)
        tx = self._btc_retry(
            lambda: self.funder.create_transaction(outputs, 2.0, remote), "funding a deposit"
        )

        def send() -> None:
            try:
                self.btc.send_transaction(tx)
            except BitcoinRpcError as exc:
                if exc.code != -27:  # -27: taken before a kill, answered after it
                    raise

        self._btc_retry(send, "sending a deposit")
        for n, u in enumerate(users):
            refund, reveal = reveals[n]
            self.deposits.append(Deposited(outpoint_key(tx.txid, n), amount, u, refund, reveal))

    # --- Layer-2 ----------------------------------------------------------------------------

    def _call(self, method: str, *params: Any, timeout: float = 300) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.node.call(method, *params)
            except DOWN:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def wait_accounts(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        for u, key in enumerate(self.keys):
            while True:
                account = self._call("bzk_getAccount", key.public_key().hex())
                if account is not None and account["balance"] > 0:
                    self.index[u] = int(account["index"])
                    self.nonce[u] = int(account["pending_nonce"])
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("deposits never credited on Layer-2")
                time.sleep(0.3)

    def _send(self, op: Transfer | Withdraw) -> str | None:
        """Send one signed operation until the node answers; its hash if admitted."""
        tx_hash = "0x" + op.tx_hash(self.chain_id).hex()
        while True:
            try:
                reply = self.node.call("bzk_sendTransaction", op.to_json())
            except DOWN:
                # The node may have taken it before dying: ask by hash once it is back.
                receipt = self._call("bzk_getTransactionReceipt", tx_hash)
                if receipt is not None:
                    self.admitted_unacked.add(tx_hash)
                    return tx_hash
                continue
            except L2RpcError as exc:
                receipt = self._call("bzk_getTransactionReceipt", tx_hash)
                if receipt is not None:  # "already known": admitted before a kill
                    self.admitted_unacked.add(tx_hash)
                    return tx_hash
                self.rejected[exc.message.split(":")[0]] += 1
                if "nonce" in exc.message.lower():  # ours is behind what the node took
                    account = self._call("bzk_getAccount", op.sender)
                    for u, index in self.index.items():
                        if index == op.sender and account is not None:
                            self.nonce[u] = int(account["pending_nonce"])
                return None
            if reply["hash"] != tx_hash:
                raise RuntimeError(f"node answered hash {reply['hash']}, expected {tx_hash}")
            self.acked[tx_hash] = op
            return tx_hash

    def _balance(self, u: int) -> int:
        account = self._call("bzk_getAccount", self.index[u])
        return int(account["balance"]) if account else 0

    def step(self) -> None:
        u = self.rng.randrange(len(self.keys))
        balance = self._balance(u)
        withdraw = self.want_withdrawal.is_set() or self.rng.random() < 0.15
        op: Transfer | Withdraw
        if withdraw and balance > 200_000:
            spk = self.payee.new_key().script_pubkey
            amount = self.rng.randrange(20, 60) * 1_000
            op = Withdraw(self.index[u], spk, amount, 10, self.nonce[u]).signed(
                self.keys[u], self.chain_id
            )
        elif balance > 100_000:
            to = self.rng.choice([v for v in range(len(self.keys)) if v != u])
            amount = self.rng.randrange(1, 40) * 1_000
            op = Transfer(
                self.index[u],
                0,
                self.keys[to].public_key(),
                amount,
                self.rng.choice((1, 2, 5)),
                self.nonce[u],
            ).signed(self.keys[u], self.chain_id)
        else:
            return
        tx_hash = self._send(op)
        if tx_hash is not None:
            self.nonce[u] += 1
            if isinstance(op, Withdraw):
                self.withdrawal_spks.add(op.script_pubkey)
                self.withdrawals.append(tx_hash)
                self.want_withdrawal.clear()

    def run(self, watch: Watch, interval: float) -> None:
        """The load, until told to stop: paced, and held back while the prover lags."""
        try:
            while not self.stop.is_set():
                lagging = len(watch.batches()) > self.max_lag
                if (self.hold.is_set() or lagging) and not self.want_withdrawal.is_set():
                    time.sleep(0.2)
                    continue
                self.step()
                time.sleep(interval * self.rng.uniform(0.5, 1.5))
        except BaseException as exc:  # reported by the harness, never swallowed
            self.error = exc


# ---------------------------------------------------------------------------------------
# The harness.
# ---------------------------------------------------------------------------------------


@dataclass
class Kill:
    phase: str
    at: float
    observed: str
    orphans: list[str]
    recovery_s: float | None


def _config_toml(node_port: int, btc_port: int) -> str:
    # The smallest circuit (its key is cached by the test suite) and quick blocks.
    return f"""
[chain]
chain_id = 7
tree_depth = 6
block_slots = 2
block_records = 1
[node]
port = {node_port}
block_time = 0.5
[bitcoin]
rpc_port = {btc_port}
block_time = 2.0
[bridge]
deposit_confirmations = 2
refund_timelock = 288
"""


class Chaos:
    def __init__(
        self,
        workdir: Path,
        kills: int,
        seed: int,
        users: int = 4,
        say: Callable[[str], None] = lambda s: None,
        phase_timeout: float = 240.0,
        recovery_timeout: float = 180.0,
        drain_timeout: float = 600.0,
        interval: float = 0.5,
    ) -> None:
        self.workdir = workdir
        self.kills_wanted = kills
        self.rng = random.Random(seed)
        self.seed = seed
        self.say = say
        self.phase_timeout = phase_timeout
        self.recovery_timeout = recovery_timeout
        self.drain_timeout = drain_timeout
        self.interval = interval
        node_port, btc_port = free_port(), free_port()
        config = workdir / "devnet.toml"
        config.write_text(_config_toml(node_port, btc_port))
        self.devnet = DevnetProcess(workdir, config, node_port, btc_port)
        self.watch = Watch(self.devnet.data_dir)
        self.driver = Driver(self.devnet, seed, users, chain_id=7)
        self.kills: list[Kill] = []
        self.recoveries: list[float] = []
        self.answers: list[float] = []
        self.failed_recoveries = 0
        self.phase_timeouts = 0
        self.orphans: list[ProcId] = []
        self.paid: set[str] = set()
        self.sweeps_confirmed: set[str] = set()

    # --- phases -----------------------------------------------------------------------------

    def _withdrawal_unpaid_final(self) -> bool:
        """A withdrawal in a final batch that Bitcoin has not paid (confirmed) yet."""
        batches = self.watch.batches()
        d = self.driver
        for tx_hash in [h for h in d.withdrawals if h not in self.paid]:
            op = d.acked.get(tx_hash)
            try:
                receipt = d.node.call("bzk_getTransactionReceipt", tx_hash)
                if not receipt or receipt.get("block_number") is None or op is None:
                    continue
                if receipt["block_number"] in batches:
                    continue  # not final yet
                assert isinstance(op, Withdraw)
                if d.btc.scan_script(op.script_pubkey):
                    self.paid.add(tx_hash)
                    continue
            except (*DOWN, L2RpcError, BitcoinRpcError):
                return False
            return True
        return False

    def _sweep_active(self) -> bool:
        """A sweep recorded and not confirmed (broadcast or about to be), or a credited
        deposit in no sweep whose Layer-2 block is final: the next bridge cycle sweeps
        it (signing)."""
        if not self.watch.sweep_supported():
            return False
        d = self.driver
        db = self.watch.bridge_db
        try:
            for (txid,) in _read(db, "SELECT txid FROM sweeps"):
                if txid in self.sweeps_confirmed:
                    continue
                try:
                    found = d.btc.call("getrawtransaction", txid, True)
                except BitcoinRpcError:
                    return True  # recorded, not broadcast yet
                if not found.get("blockhash"):
                    return True
                self.sweeps_confirmed.add(str(txid))
            unswept = _read(
                db,
                "SELECT txid, vout FROM deposits WHERE status='credited' AND NOT EXISTS "
                "(SELECT 1 FROM swept s WHERE s.txid=deposits.txid AND s.vout=deposits.vout)",
            )
            batches = self.watch.batches()
            for txid, vout in unswept:
                receipt = d.node.call("bzk_getTransactionReceipt", deposit_hash(txid, vout))
                if receipt and receipt.get("block_number") not in (None, *batches):
                    return True
        except (*DOWN, L2RpcError):
            return False
        return False

    def active(self, phase: str) -> bool:
        if phase == "block":
            return self.watch.mempool() > 0
        if phase == "prove":
            return BatchStatus.PROVING in self.watch.batches().values()
        if phase == "commit":
            # The settlement loop commits a proven run as soon as a proof lands.
            return BatchStatus.PROVEN in self.watch.batches().values()
        if phase == "sweep":
            return self._sweep_active()
        if phase == "payout":
            return self._withdrawal_unpaid_final()
        return False

    def observe(self) -> set[str]:
        """The phases under way right now."""
        return {p for p in PHASES if self.active(p)}

    def _wait_phase(self, phase: str) -> str:
        """Wait until `phase` is under way, then a random moment inside it; returns
        what was observed at the kill (`phase`, or "random" when it never came)."""
        if phase == "random":
            time.sleep(self.rng.uniform(1.0, 15.0))
            seen = self.observe()
            return "random" + (f"({'+'.join(sorted(seen))})" if seen else "")
        if phase == "payout":
            self.driver.want_withdrawal.set()
        if phase == "sweep":
            self.driver.deposit([self.rng.randrange(len(self.driver.keys))], 300_000)
        if phase in ("payout", "sweep"):
            # Hold new blocks back so the prover catches up and batches settle.
            self.driver.hold.set()
        try:
            return self._wait_active(phase)
        finally:
            self.driver.hold.clear()

    def _wait_active(self, phase: str) -> str:
        deadline = time.monotonic() + self.phase_timeout
        while time.monotonic() < deadline:
            if self.active(phase):
                if phase in ("payout", "sweep") and self.rng.random() < 0.5:
                    # The other half of the window: recorded, maybe broadcast.
                    table = "payouts" if phase == "payout" else "sweeps"
                    before = self.watch.count(table)
                    until = time.monotonic() + 10
                    while self.watch.count(table) == before and time.monotonic() < until:
                        time.sleep(0.02)
                    return phase
                time.sleep(self.rng.uniform(0.0, {"block": 0.5, "prove": 3.0}.get(phase, 0.3)))
                return phase
            time.sleep(0.05)
        self.phase_timeouts += 1
        return "random(timeout waiting for " + phase + ")"

    # --- kill, restart, recover ------------------------------------------------------------

    def _progress_mark(self) -> tuple[int, dict[int, int]]:
        """(head, stage of every batch not final) when the kill lands."""
        return self.watch.head(), {n: _stage(s) for n, s in self.watch.batches().items()}

    def kill_and_recover(self, phase: str) -> None:
        # Traffic first, so transactions are in flight whatever the phase.
        time.sleep(self.rng.uniform(5.0, 15.0))
        if phase == "worker":
            if self.kill_worker():
                return
            phase = "random"
        observed = self._wait_phase(phase)
        mark = self._progress_mark()
        tree = self.devnet.kill9()
        killed_at = time.monotonic()
        orphans = reap_orphans(tree, grace=2.0)
        self.orphans += orphans
        label = phase if observed == phase else "random"
        self.say(
            f"kill {len(self.kills) + 1}: {observed}"
            + (f"; {len(orphans)} orphan(s) left" if orphans else "")
        )
        recovery = self.restart(mark)
        self.kills.append(Kill(label, killed_at, observed, [p.cmd for p in orphans], recovery))

    def kill_worker(self) -> bool:
        """kill -9 of the devnet's largest worker alone, mid-proof (the prover's: it
        holds the key), as the OOM killer would; the devnet is not restarted."""
        observed = self._wait_phase("prove")
        assert self.devnet.proc is not None
        workers = process_tree(self.devnet.proc.pid)
        mark = self._progress_mark()
        started = time.monotonic()
        if observed != "prove" or not workers:
            return False  # no proof came: the devnet is killed instead
        victim = max(workers, key=lambda p: _rss_kb(p.pid))
        with contextlib.suppress(OSError):
            os.kill(victim.pid, signal.SIGKILL)
        self.say(f"kill {len(self.kills) + 1}: worker {victim.pid} ({_rss_kb(victim.pid)} kB)")
        recovery = self._progress_since(started, mark)
        self.kills.append(Kill("worker", started, "worker(prove)", [], recovery))
        return True

    def restart(self, mark: tuple[int, dict[int, int]]) -> float | None:
        """Start again on the same data; seconds until it answers and moves on."""
        started = time.monotonic()
        self.devnet.start()
        if not self.devnet.wait_ready(self.recovery_timeout):
            self.failed_recoveries += 1
            self.say("  the devnet did not come back: see devnet.log")
            return None
        self.answers.append(time.monotonic() - started)
        return self._progress_since(started, mark)

    def _progress_since(self, started: float, mark: tuple[int, dict[int, int]]) -> float | None:
        head, stages = mark
        deadline = started + self.recovery_timeout
        while time.monotonic() < deadline:
            batches = self.watch.batches()
            moved_blocks = self.watch.head() > head or self.watch.mempool() == 0
            # Some batch got past where it was: a proof under way at the kill counts
            # once it is proven again, not when it is merely restarted.
            moved_batches = not stages or any(
                _stage(batches.get(n)) > stage for n, stage in stages.items()
            )
            if moved_blocks and moved_batches:
                took = time.monotonic() - started
                self.recoveries.append(took)
                self.say(f"  recovered in {took:.1f} s")
                return took
            time.sleep(0.05)
        self.failed_recoveries += 1
        self.say("  no progress after the kill")
        return None

    # --- settle and audit ------------------------------------------------------------------

    def drain(self) -> bool:
        """Wait until every admitted transaction is in a block, every batch final,
        every deposit credited (and swept, when the bridge sweeps) and every
        withdrawal paid and confirmed."""
        d = self.driver
        deadline = time.monotonic() + self.drain_timeout
        hashes = [*d.acked, *d.admitted_unacked]
        while time.monotonic() < deadline:
            try:
                done = all(
                    (d.node.call("bzk_getTransactionReceipt", h) or {}).get("status")
                    not in (None, "pending")
                    for h in hashes
                )
                done = done and not self.watch.batches() and self.watch.mempool() == 0
                if done:
                    facts = self.l2_facts()
                    credited = {op for op, _ in facts.credits}
                    done = all(dep.outpoint in credited for dep in d.deposits)
                    paid = all(d.btc.scan_script(spk) for spk, _ in facts.withdrawals)
                    swept = not self.watch.sweep_supported() or all(
                        d.btc.get_txout(OutPoint(*_split(dep.outpoint)), False) is None
                        for dep in d.deposits
                    )
                    if done and paid and swept:
                        return True
            except (*DOWN, L2RpcError, BitcoinRpcError):
                pass
            time.sleep(1.0)
        return False

    def l2_facts(self) -> L2Facts:
        node = self.driver.node
        info = node.call("bzk_chainInfo")
        credits: list[tuple[str, int]] = []
        withdrawals: list[tuple[bytes, int]] = []
        for n in range(1, int(info["head"]) + 1):
            for op in node.call("bzk_getBlock", n, True)["ops"]:
                if op["type"] == "deposit":
                    credits.append((outpoint_key(op["txid"], int(op["vout"])), int(op["amount"])))
                elif op["type"] == "withdraw":
                    withdrawals.append((bytes.fromhex(op["script_pubkey"]), int(op["amount"])))
        total = 0
        for i in range(int(info["accounts"])):
            account = node.call("bzk_getAccount", i)
            total += int(account["balance"]) if account else 0
        receipts = {
            h: (node.call("bzk_getTransactionReceipt", h) or {}).get("status")
            for h in self.driver.acked
        }
        return L2Facts(credits, withdrawals, total, receipts)

    def signer_set(self) -> SignerSet:
        """From the public keys in the signers' key files (their secrets stay unread)."""
        keys = sorted((self.devnet.data_dir / "bridge").glob("signer*/key.json"))
        pubkeys = [bytes.fromhex(json.loads(p.read_text())["pubkey"]) for p in keys]
        return SignerSet.of(pubkeys, BridgeSection().threshold)

    def custody_spks(self) -> set[bytes]:
        """The signer set's own output script (payout change, swept deposits)."""
        return {self.signer_set().main_output().script_pubkey}

    def bridge_book(self) -> dict[str, int] | None:
        """The bridge's own book (`bitcoinzk.bridge.sweep.reserves`, once the bridge
        sweeps), read from its store after the devnet stopped."""
        try:
            sweep = importlib.import_module("bitcoinzk.bridge.sweep")
        except ImportError:
            return None
        store = BridgeStore(self.watch.bridge_db)
        try:
            r = sweep.reserves(store)
        finally:
            store.close()
        return {
            "reserves": int(r.total),
            "surplus": int(r.surplus),
            "credited": int(r.credited),
            "withdrawn": int(r.withdrawn),
        }

    def refund_attack(self) -> tuple[int, int]:
        """Issue 11's double pay: every depositor, once its refund leaf matures, tries to
        take its deposit back while Layer-2 keeps the credit.  Returns (attempts,
        accepted); the accepted ones are mined and show up as leaks in the audit."""
        d = self.driver
        btc = d.btc
        signer_set = self.signer_set()
        todo = []
        for dep in d.deposits:
            op = OutPoint(*_split(dep.outpoint))
            found = btc.call("getrawtransaction", op.txid, True)
            if not found.get("blockhash"):
                continue
            height = int(btc.call("getblockheader", found["blockhash"], True)["height"])
            todo.append((dep, op, height + dep.reveal.timelock))
        if not todo:
            return 0, 0
        # BIP-68: spendable in the block at height + timelock, so from the mempool one before.
        need = max(h for _, _, h in todo) - 1 - btc.getblockcount()
        burn = d.refunds.new_key().script_pubkey
        remote = RemoteBitcoin(btc)
        while need > 0:
            step = min(need, 25)
            self.driver._btc_retry(partial(remote.mine, step), "mining to the refund height")
            need -= step
        to = d.refunds.new_key().script_pubkey
        accepted = 0
        for dep, op, _ in todo:
            tx = refund_transaction(
                dep.reveal, signer_set, op, dep.amount, dep.refund, to, fee=1_000
            )
            try:
                btc.send_transaction(tx)
            except BitcoinRpcError:
                continue  # swept: the refund leaf spends nothing any more
            accepted += 1
            self.say(f"  refund of credited deposit {dep.outpoint} ACCEPTED")
        remote.mine(1, burn)
        return len(todo), accepted

    def bitcoin_flows(self, withdrawal_spks: set[bytes]) -> tuple[BridgeFlows, set[bytes]]:
        btc = self.driver.btc
        bridge_spks = self.driver.deposit_spks | self.custody_spks()

        def txs() -> Iterable[Tx]:
            for h in range(btc.getblockcount() + 1):
                yield from btc.get_block(btc.getblockhash(h)).txs

        return walk_bridge(txs(), bridge_spks, withdrawal_spks), bridge_spks

    def reserves(self, bridge_spks: set[bytes]) -> int:
        return sum(c.output.value for spk in bridge_spks for c in self.driver.btc.scan_script(spk))

    # --- the run ---------------------------------------------------------------------------

    def plan(self) -> list[str]:
        first = [p for p in PHASES if p != "random"]
        self.rng.shuffle(first)
        plan = [*first, "random"]
        while len(plan) < self.kills_wanted:
            plan.append(self.rng.choice(PHASES))
        return plan[: self.kills_wanted]

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        d = self.driver
        self.devnet.start()
        if not self.devnet.wait_ready(self.recovery_timeout):
            raise RuntimeError(f"the devnet did not start; see {self.devnet.log_path}")
        self.say(f"devnet up: {self.devnet.node_url}, Bitcoin {self.devnet.btc_url}")
        d.fund()
        d.deposit(list(range(len(d.keys))), 2_000_000)
        d.wait_accounts()
        self.say(f"{len(d.keys)} users funded on Layer-2 by deposit")
        worker = threading.Thread(target=d.run, args=(self.watch, self.interval), daemon=True)
        worker.start()
        plan = self.plan()
        sweep = False
        try:
            for n, phase in enumerate(plan):
                if d.error is not None:
                    raise d.error
                sweep = sweep or self.watch.sweep_supported()
                if phase == "sweep" and not sweep:
                    phase = "random"
                if n % 4 == 3:  # deposits keep arriving during the run
                    d.deposit([self.rng.randrange(len(d.keys))], 500_000)
                self.kill_and_recover(phase)
        finally:
            d.stop.set()
            worker.join(timeout=120)
        if d.error is not None:
            raise d.error
        self.say("settling …")
        drained = self.drain()
        attempts, refunds = self.refund_attack()
        self.say(f"refund attack: {refunds} of {attempts} credited deposits refunded")
        facts = self.l2_facts()
        withdrawal_spks = {spk for spk, _ in facts.withdrawals}
        flows, bridge_spks = self.bitcoin_flows(withdrawal_spks)
        reserves = self.reserves(bridge_spks)
        deposit_inflow = {
            k: v for k, v in flows.inflow.items() if any(k == x.outpoint for x in d.deposits)
        }
        # Inflow to deposit addresses the driver did not make (none expected) still counts.
        result = audit(flows, reserves, facts, deposit_inflow)
        tree = self.devnet.stop()
        stop_orphans = reap_orphans(tree, grace=3.0)
        book = self.bridge_book()
        agrees = book is None or book == {
            "reserves": result.reserves_sats - result.uncredited_sats,
            "surplus": result.surplus_sats,
            "credited": sum(a for _, a in facts.credits),
            "withdrawn": sum(a for _, a in facts.withdrawals),
        }
        by_phase = Counter(k.phase for k in self.kills)
        recoveries = self.recoveries or [0.0]
        errors = _log_errors(self.devnet.log_path)
        return {
            "kills": len(self.kills),
            "kills_by_phase": {p: by_phase.get(p, 0) for p in PHASES},
            **{k: v for k, v in result.to_json().items() if k != "reconciled"},
            "reconciled": result.reconciled and agrees,
            "bridge_book": book,
            "bridge_book_agrees": agrees if book is not None else None,
            "refund_attempts": attempts,
            "refunds_accepted": refunds,
            "drained": drained,
            "recovery_s_max": round(max(recoveries), 2),
            "recovery_s_mean": round(sum(recoveries) / len(recoveries), 2),
            "answer_s_max": round(max(self.answers or [0.0]), 2),
            "failed_recoveries": self.failed_recoveries,
            "phase_timeouts": self.phase_timeouts,
            "orphans_left": len(self.orphans) + len(stop_orphans),
            "orphans_after_kill": len(self.orphans),
            "orphans_after_stop": len(stop_orphans),
            "orphans": sorted({p.cmd for p in self.orphans + stop_orphans}),
            "kill_log": [
                {
                    "observed": k.observed,
                    "recovery_s": None if k.recovery_s is None else round(k.recovery_s, 1),
                    "orphans": len(k.orphans),
                }
                for k in self.kills
            ],
            "admitted_unacked": len(d.admitted_unacked),
            "rejected": dict(d.rejected),
            "sweep_supported": sweep,
            "log_errors": errors,
            "blocks": self.watch.head(),
            "seed": self.seed,
            "shape": "B2-E1-D6",
            "seconds": round(time.monotonic() - started, 1),
        }


def _log_errors(path: Path) -> int:
    """Tracebacks and ERROR/CRITICAL lines the devnet logged (each a lead to follow)."""
    if not path.exists():
        return 0
    text = path.read_text(errors="replace")
    return text.count("Traceback") + text.count("HALTED")


def run(
    kills: int = 10,
    seed: int = 1,
    data_dir: Path | None = None,
    console: Console | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The benchmark; `data_dir` keeps the scratch directory (default: a temporary one)."""
    say = console.print if console is not None else (lambda *a, **k: None)

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through the `finally` that stops the devnet

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, terminate)
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        return _run_in(data_dir, kills, seed, say, options)
    with tempfile.TemporaryDirectory(prefix="bzk-chaos-") as tmp:
        return _run_in(Path(tmp), kills, seed, say, options)


def _run_in(
    workdir: Path, kills: int, seed: int, say: Callable[[str], None], options: dict[str, Any]
) -> dict[str, Any]:
    chaos = Chaos(workdir, kills, seed, say=say, **options)
    try:
        return chaos.run()
    finally:
        reap_orphans(chaos.devnet.stop(), grace=3.0)  # also when interrupted


__all__ = ["Audit", "BridgeFlows", "Chaos", "L2Facts", "audit", "run", "walk_bridge"]
