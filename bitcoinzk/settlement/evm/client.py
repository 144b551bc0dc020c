"""EVM clients behind one interface: embedded py-evm (titanoboa) and any JSON-RPC node.

The rollup code above this module only ever sees `EvmClient`: raw calldata in,
receipts and logs out. Two implementations:

- `EmbeddedClient`: py-evm in this process, through titanoboa. Each transaction
  is its own block. Its chain survives a restart: the state trie's nodes are
  content-addressed, so after every transaction the new nodes are appended to a
  SQLite file together with the new state root, the transaction and its logs.
  Reopening the file points py-evm at the saved root; no transaction is replayed
  (a proof verification costs ~1 s in py-evm, replaying a long chain would not).
- `Web3Client`: any Ethereum JSON-RPC endpoint (anvil, geth, BSC, a provider)
  through web3.py with a private key: nonce read from the node per transaction, gas estimation,
  EIP-1559 fees when the chain has a base fee, confirmation waiting, retries.

A transaction that would revert raises `TransactionReverted` with the contract's
reason. Both clients check by simulation first, so a rejected batch costs no gas
and changes nothing; a transaction that reverts once mined raises the same error.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from bitcoinzk import safejson
from bitcoinzk.sqlite import SqliteStore

ERROR_SELECTOR = bytes.fromhex("08c379a0")
DEFAULT_KEY = hashlib.sha256(b"bitcoinzk devnet sequencer").digest()
"""A public, well-known key: only ever a default for local chains (embedded, anvil)."""

T = TypeVar("T")


class EvmError(Exception):
    """The settlement chain did not do what was asked."""


class TransactionReverted(EvmError):
    """The contract refused the transaction; `reason` is its revert string."""

    def __init__(self, reason: str, tx_hash: bytes | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tx_hash = tx_hash


class ChainUnavailable(EvmError):
    """The RPC endpoint could not be reached after the configured retries."""


class InsufficientFunds(EvmError):
    """The signing key cannot pay for gas on this chain (e.g. the public dev key on an
    anvil this project did not start)."""


class ConfirmationTimeout(EvmError):
    """A sent transaction was not mined in time (it may still be)."""


@dataclass(frozen=True)
class Log:
    address: str
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    tx_hash: bytes
    log_index: int
    block_hash: bytes | None = None


@dataclass(frozen=True)
class TxReceipt:
    tx_hash: bytes
    block_number: int
    gas_used: int
    status: bool
    contract_address: str | None
    logs: tuple[Log, ...]
    calldata_bytes: int = 0
    # intrinsic + execution - refund, before the EIP-7623 calldata floor (embedded client only)
    standard_gas: int | None = None


def revert_reason(output: bytes) -> str:
    """The string of an `Error(string)` revert, or a hex dump of anything else."""
    if output[:4] == ERROR_SELECTOR:
        try:
            return str(abi_decode(["string"], output[4:])[0])
        except Exception:  # malformed revert data is still a revert
            pass
    return "reverted" if not output else f"reverted: 0x{output.hex()}"


def intrinsic_gas(data: bytes, create: bool) -> tuple[int, int]:
    """(intrinsic gas, EIP-7623 floor) of a transaction carrying `data`.

    The embedded EVM executes messages, not transactions, so it adds the
    transaction-level charges itself to report what a real chain would bill.
    """
    zeros = data.count(0)
    nonzero = len(data) - zeros
    gas = 21_000 + 16 * nonzero + 4 * zeros
    if create:
        gas += 32_000 + 2 * ((len(data) + 31) // 32)
    tokens = zeros + 4 * nonzero
    return gas, 21_000 + 10 * tokens


class EvmClient(ABC):
    """What the settlement layer needs from an EVM chain."""

    sender: str
    confirmations_required: int = 1

    @abstractmethod
    def deploy(self, initcode: bytes) -> TxReceipt:
        """Create a contract; the receipt's `contract_address` is where it lives."""

    @abstractmethod
    def send(self, to: str, data: bytes) -> TxReceipt:
        """Send a transaction and wait until it is mined (TransactionReverted if it fails)."""

    @abstractmethod
    def call(self, to: str, data: bytes) -> bytes:
        """Read-only call at the latest block."""

    @abstractmethod
    def code(self, address: str) -> bytes:
        """The code deployed at `address` at the latest block (empty: no contract)."""

    @abstractmethod
    def block_number(self) -> int: ...

    @abstractmethod
    def receipt(self, tx_hash: bytes) -> TxReceipt | None: ...

    @abstractmethod
    def transaction_input(self, tx_hash: bytes) -> bytes:
        """The calldata of a mined transaction: the DA copy of a batch."""

    @abstractmethod
    def logs(self, address: str, from_block: int = 0, to_block: int | None = None) -> list[Log]: ...

    @abstractmethod
    def block_hash(self, number: int) -> bytes | None:
        """The hash of block `number` on the current chain (None above the tip): a follower
        compares it with the one it recorded to notice a reorg."""

    def refresh(self) -> None:  # noqa: B027 - optional hook, only a shared file needs it
        """See what other processes wrote to the chain since this client opened it."""

    @abstractmethod
    def with_key(self, private_key: bytes) -> EvmClient:
        """A client on the same chain that signs with another key."""

    def confirmations(self, tx_hash: bytes) -> int:
        """Blocks on top of (and including) the one holding `tx_hash`; 0 if not mined."""
        receipt = self.receipt(tx_hash)
        if receipt is None:
            return 0
        return max(0, self.block_number() - receipt.block_number + 1)

    def is_final(self, tx_hash: bytes) -> bool:
        return self.confirmations(tx_hash) >= self.confirmations_required

    def close(self) -> None:  # noqa: B027 - optional hook, most clients hold nothing
        """Release connections and files."""


# --- embedded py-evm ---------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trie (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS txs (
    hash BLOB PRIMARY KEY, block_number INTEGER NOT NULL, sender TEXT NOT NULL,
    recipient TEXT, input BLOB NOT NULL, gas_used INTEGER NOT NULL, contract TEXT
);
CREATE TABLE IF NOT EXISTS logs (
    tx_hash BLOB NOT NULL, log_index INTEGER NOT NULL, block_number INTEGER NOT NULL,
    address TEXT NOT NULL, topics BLOB NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (tx_hash, log_index)
);
CREATE INDEX IF NOT EXISTS logs_by_address ON logs (address, block_number);
"""


class EmbeddedChain:
    """One py-evm chain (titanoboa Env), optionally persisted to a SQLite file.

    Several `EmbeddedClient`s (one per signing key) share one chain. A lock
    serialises transactions: py-evm is not thread-safe.
    """

    def __init__(self, path: Path | str | None = None) -> None:
        import boa  # imported here: titanoboa pulls in py-evm, slow to import

        self.env = boa.Env()
        self.lock = threading.RLock()
        self.store: SqliteStore | None = None
        self.db: sqlite3.Connection | None = None  # the store's, for reading
        self.height = 0
        self._raw = self.env.evm.chain.chaindb.db
        self._saved: set[bytes] = set()
        if path is not None:
            self.store = SqliteStore(path, _SCHEMA)
            self.db = self.store.db
            self._load()

    def _load(self) -> None:
        assert self.store is not None and self.db is not None
        root_hex = self.store.get_meta("state_root")
        if root_hex is None:
            self._persist([])  # record the genesis state so a reopen finds it
            return
        kv = self._raw.wrapped_db.kv_store
        for key, value in self.db.execute("SELECT key, value FROM trie"):
            kv[bytes(key)] = bytes(value)
            self._saved.add(bytes(key))
        state = self.env.evm.vm.state
        state._account_db = type(state._account_db)(self._raw, bytes.fromhex(root_hex))
        self.height = int(self.store.get_meta("height") or 0)
        self.env.evm.patch.block_number = self.height

    def _persist(self, rows: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Flush py-evm's journal into its trie, then append what is new to SQLite."""
        state = self.env.evm.vm.state
        state._account_db.persist()
        if self.store is None:
            return
        kv = self._raw.wrapped_db.kv_store
        new = [(k, v) for k, v in kv.items() if k not in self._saved]
        root = state._account_db.state_root
        with self.store.transaction() as db:  # a crash leaves the old chain or the new one
            db.executemany("INSERT OR IGNORE INTO trie VALUES (?,?)", new)
            for sql, params in rows:
                db.execute(sql, params)
            self.store.set_meta("state_root", root.hex())
            self.store.set_meta("height", str(self.height))
        self._saved.update(k for k, _ in new)

    def tick(self) -> None:
        """Move block.timestamp up to the wall clock, as a real chain's blocks do (titanoboa
        fixes it when the Env is made): the forced-withdrawal deadlines are in its time.
        Never backwards, so a test that travelled ahead stays ahead."""
        patch = self.env.evm.patch
        patch.timestamp = max(patch.timestamp, int(time.time()))

    def refresh(self) -> None:
        """Catch up with transactions another process (the sequencer's node) appended to
        the same file: load the trie nodes this process has not seen and re-root py-evm.
        Only for a reader: a writer's own transactions are already here."""
        if self.store is None or self.db is None:
            return
        height = int(self.store.get_meta("height") or 0)
        if height == self.height:
            return
        with self.lock:
            kv = self._raw.wrapped_db.kv_store
            for key, value in self.db.execute("SELECT key, value FROM trie"):
                raw = bytes(key)
                if raw not in self._saved:
                    kv[raw] = bytes(value)
                    self._saved.add(raw)
            root = bytes.fromhex(self.store.get_meta("state_root") or "")
            state = self.env.evm.vm.state
            state._account_db = type(state._account_db)(self._raw, root)
            self.height = height
            self.env.evm.patch.block_number = height

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = self.db = None


class EmbeddedClient(EvmClient):
    """py-evm in-process: the default settlement chain of `make demo` and the tests."""

    def __init__(
        self,
        path: Path | str | None = None,
        private_key: bytes = DEFAULT_KEY,
        chain: EmbeddedChain | None = None,
        confirmations: int = 1,
    ) -> None:
        self.chain = chain if chain is not None else EmbeddedChain(path)
        self.key = private_key
        self.sender = str(Account.from_key(private_key).address)
        self.confirmations_required = confirmations
        # in-memory receipts when not persisted
        self._mem_txs: dict[bytes, tuple[int, str | None, bytes, int, str | None]] = {}
        self._mem_logs: list[Log] = []

    def with_key(self, private_key: bytes) -> EmbeddedClient:
        return EmbeddedClient(None, private_key, self.chain, self.confirmations_required)

    def _tx_hash(self, to: str | None, data: bytes) -> bytes:
        nonce = self.chain.env.evm.vm.state.get_nonce(bytes.fromhex(self.sender[2:]))
        return keccak(
            self.sender.encode()
            + nonce.to_bytes(8, "big")
            + (to or "").encode()
            + data
            + self.chain.height.to_bytes(8, "big")
        )

    def _execute(self, to: str | None, data: bytes) -> TxReceipt:
        chain = self.chain
        env = chain.env
        with chain.lock:
            chain.tick()
            tx_hash = self._tx_hash(to, data)
            state = env.evm.vm.state
            sender_raw = bytes.fromhex(self.sender[2:])
            env._reset_access_counters()
            snapshot = env.evm.snapshot()
            if to is None:
                target, computation = env.deploy(sender=self.sender, bytecode=data)
                contract: str | None = to_checksum_address(target.canonical_address)
            else:
                computation = env.execute_code(
                    to_address=to, sender=self.sender, data=data, is_modifying=True
                )
                state.increment_nonce(sender_raw)
                contract = None
            if computation.is_error:
                env.evm.revert(snapshot)  # also undoes the create's nonce bump
                raise TransactionReverted(revert_reason(bytes(computation.output)))
            execution = computation.get_gas_used()
            base, floor = intrinsic_gas(data, to is None)
            total = base + execution
            refund = min(computation.get_gas_refund(), total // 5)
            gas_used = max(total - refund, floor)
            chain.height += 1
            env.evm.patch.block_number = chain.height
            logs: list[Log] = []
            for i, (_, address, topics, payload) in enumerate(
                sorted(computation.get_raw_log_entries(), key=lambda e: e[0])
            ):
                logs.append(
                    Log(
                        to_checksum_address(address),
                        tuple(t.to_bytes(32, "big") for t in topics),
                        bytes(payload),
                        chain.height,
                        tx_hash,
                        i,
                        keccak(tx_hash),
                    )
                )
            rows: list[tuple[str, tuple[Any, ...]]] = [
                (
                    "INSERT INTO txs VALUES (?,?,?,?,?,?,?)",
                    (tx_hash, chain.height, self.sender, to, data, gas_used, contract),
                )
            ]
            for log in logs:
                rows.append(
                    (
                        "INSERT INTO logs VALUES (?,?,?,?,?,?)",
                        (
                            tx_hash,
                            log.log_index,
                            log.block_number,
                            log.address,
                            b"".join(log.topics),
                            log.data,
                        ),
                    )
                )
            chain._persist(rows)
            if chain.db is None:
                self._mem_txs[tx_hash] = (chain.height, to, data, gas_used, contract)
                self._mem_logs.extend(logs)
            return TxReceipt(
                tx_hash,
                chain.height,
                gas_used,
                True,
                contract,
                tuple(logs),
                len(data),
                total - refund,
            )

    def deploy(self, initcode: bytes) -> TxReceipt:
        return self._execute(None, initcode)

    def send(self, to: str, data: bytes) -> TxReceipt:
        return self._execute(to, data)

    def call(self, to: str, data: bytes) -> bytes:
        env = self.chain.env
        with self.chain.lock:
            self.chain.tick()
            computation = env.execute_code(
                to_address=to, sender=self.sender, data=data, is_modifying=False, simulate=True
            )
        if computation.is_error:
            raise TransactionReverted(revert_reason(bytes(computation.output)))
        return bytes(computation.output)

    def code(self, address: str) -> bytes:
        with self.chain.lock:
            state = self.chain.env.evm.vm.state
            return bytes(state.get_code(bytes.fromhex(to_checksum_address(address)[2:])))

    def block_number(self) -> int:
        return self.chain.height

    def receipt(self, tx_hash: bytes) -> TxReceipt | None:
        db = self.chain.db
        if db is None:
            row = self._mem_txs.get(tx_hash)
            if row is None:
                return None
            height, _, data, gas, contract = row
            logs = tuple(x for x in self._mem_logs if x.tx_hash == tx_hash)
            return TxReceipt(tx_hash, height, gas, True, contract, logs, len(data))
        found = db.execute(
            "SELECT block_number, input, gas_used, contract FROM txs WHERE hash=?", (tx_hash,)
        ).fetchone()
        if found is None:
            return None
        logs = tuple(self._log_rows("WHERE tx_hash=?", (tx_hash,)))
        return TxReceipt(tx_hash, found[0], found[2], True, found[3], logs, len(found[1]))

    def _log_rows(self, where: str, params: tuple[Any, ...]) -> list[Log]:
        assert self.chain.db is not None
        out = []
        for tx_hash, index, block, address, topics, data in self.chain.db.execute(
            "SELECT tx_hash, log_index, block_number, address, topics, data FROM logs "
            f"{where} ORDER BY block_number, log_index",
            params,
        ):
            raw = bytes(topics)
            out.append(
                Log(
                    address,
                    tuple(raw[i : i + 32] for i in range(0, len(raw), 32)),
                    bytes(data),
                    block,
                    bytes(tx_hash),
                    index,
                    keccak(bytes(tx_hash)),  # block_hash(): one transaction per block
                )
            )
        return out

    def transaction_input(self, tx_hash: bytes) -> bytes:
        if self.chain.db is None:
            return self._mem_txs[tx_hash][2]
        row = self.chain.db.execute("SELECT input FROM txs WHERE hash=?", (tx_hash,)).fetchone()
        if row is None:
            raise EvmError(f"unknown transaction 0x{tx_hash.hex()}")
        return bytes(row[0])

    def logs(self, address: str, from_block: int = 0, to_block: int | None = None) -> list[Log]:
        last = self.chain.height if to_block is None else to_block
        address = to_checksum_address(address)
        if self.chain.db is None:
            return [
                x
                for x in self._mem_logs
                if x.address == address and from_block <= x.block_number <= last
            ]
        return self._log_rows(
            "WHERE address=? AND block_number BETWEEN ? AND ?", (address, from_block, last)
        )

    def block_hash(self, number: int) -> bytes | None:
        # One transaction per block and no reorgs: the transaction names its block.
        if number > self.chain.height:
            return None
        if self.chain.db is None:
            found = [h for h, row in self._mem_txs.items() if row[0] == number]
            return keccak(found[0]) if found else bytes(32)
        row = self.chain.db.execute(
            "SELECT hash FROM txs WHERE block_number=?", (number,)
        ).fetchone()
        return bytes(32) if row is None else keccak(bytes(row[0]))

    def refresh(self) -> None:
        self.chain.refresh()

    def close(self) -> None:
        self.chain.close()


# --- external JSON-RPC ---------------------------------------------------------------


@dataclass
class RetryPolicy:
    attempts: int = 5
    backoff_s: float = 0.25
    confirm_timeout_s: float = 120.0
    poll_s: float = 0.05


def _safe_http_provider(url: str, timeout: float) -> Any:
    """web3's HTTP provider, reading replies with `safejson` instead of `json`.

    The EVM endpoint is a network peer like any other: a broken or hostile one can
    answer 70,000 nested brackets, and with the recursion limit that py_ecc raises at
    import, `json.loads` would overflow the C stack and kill the node (issue 11 §2).
    Such a reply becomes `ChainUnavailable` instead, like any other transport failure.
    """
    from web3 import HTTPProvider

    class SafeHTTPProvider(HTTPProvider):
        @staticmethod
        def decode_rpc_response(raw_response: bytes) -> Any:
            try:
                return safejson.loads(raw_response)
            except ValueError as exc:
                raise ChainUnavailable(f"{url}: unreadable JSON-RPC reply: {exc}") from None

    return SafeHTTPProvider(url, request_kwargs={"timeout": timeout})


def _web3_log(x: Any) -> Log:
    """A log as web3 returns it (in a receipt, or from eth_getLogs)."""
    return Log(
        to_checksum_address(x["address"]),
        tuple(bytes(t) for t in x["topics"]),
        bytes(x["data"]),
        int(x["blockNumber"]),
        bytes(x["transactionHash"]),
        int(x["logIndex"]),
        bytes(x["blockHash"]),
    )


class Web3Client(EvmClient):
    """A JSON-RPC node through web3.py, signing locally with `private_key`."""

    def __init__(
        self,
        url: str,
        private_key: bytes,
        confirmations: int = 1,
        retry: RetryPolicy | None = None,
        gas_margin: float = 1.2,
    ) -> None:
        from web3 import Web3

        self.url = url
        self.w3 = Web3(_safe_http_provider(url, timeout=30))
        self.account = Account.from_key(private_key)
        self.key = private_key
        self.sender = str(self.account.address)
        self.confirmations_required = confirmations
        self.retry = retry or RetryPolicy()
        self.gas_margin = gas_margin
        self.chain_id = int(self._rpc(lambda: self.w3.eth.chain_id))
        self._lock = threading.Lock()

    def with_key(self, private_key: bytes) -> Web3Client:
        return Web3Client(
            self.url, private_key, self.confirmations_required, self.retry, self.gas_margin
        )

    def _rpc(self, fn: Callable[[], T]) -> T:
        """Call the node, retrying transport failures (not contract errors)."""
        import requests

        last: Exception | None = None
        for attempt in range(self.retry.attempts):
            try:
                return fn()
            except (requests.ConnectionError, requests.Timeout, OSError) as exc:
                last = exc
                time.sleep(self.retry.backoff_s * 2**attempt)
        raise ChainUnavailable(f"{self.url}: {last}")

    def _simulate(self, tx: dict[str, Any]) -> int:
        """Gas estimate; a revert here is the contract's verdict, raised as such."""
        from web3.exceptions import ContractLogicError, Web3RPCError

        try:
            return int(self._rpc(lambda: self.w3.eth.estimate_gas(tx)))  # type: ignore[arg-type]
        except ContractLogicError as exc:
            data = exc.data if isinstance(exc.data, str) else None
            reason = revert_reason(bytes.fromhex(data[2:])) if data else str(exc.message)
            raise TransactionReverted(reason.removeprefix("execution reverted: ")) from None
        except Web3RPCError as exc:
            if "insufficient funds" in str(exc).lower():
                raise self._unfunded() from None
            raise TransactionReverted(str(exc)) from None

    def _unfunded(self) -> InsufficientFunds:
        return InsufficientFunds(
            f"the EVM key's account {self.account.address} has no funds for gas on this "
            "chain: pass a funded key with --evm-key (settlement.evm_key)"
        )

    def _fees(self) -> dict[str, int]:
        block = self._rpc(lambda: self.w3.eth.get_block("latest"))
        base = block.get("baseFeePerGas")
        if base is None:
            return {"gasPrice": int(self._rpc(lambda: self.w3.eth.gas_price))}
        try:
            tip = int(self._rpc(lambda: self.w3.eth.max_priority_fee))
        except Exception:  # some nodes lack eth_maxPriorityFeePerGas
            tip = 10**9
        return {"maxFeePerGas": 2 * int(base) + tip, "maxPriorityFeePerGas": tip}

    def _transact(self, to: str | None, data: bytes) -> TxReceipt:
        from web3.exceptions import Web3RPCError

        with self._lock:
            call: dict[str, Any] = {"from": self.sender, "data": data}
            if to is not None:
                call["to"] = to_checksum_address(to)
            gas = int(self._simulate(call) * self.gas_margin) + 10_000
            for attempt in range(self.retry.attempts):
                # Read afresh for every transaction, never cached: an EVM reorg can drop
                # our mined transactions, and a remembered nonce would then be too high
                # (the node queues the commit forever). One transaction is in flight at a
                # time (the lock), so "pending" is exact.
                nonce = int(
                    self._rpc(
                        lambda: self.w3.eth.get_transaction_count(self.account.address, "pending")
                    )
                )
                tx = dict(call, gas=gas, nonce=nonce, chainId=self.chain_id, **self._fees())
                tx.pop("from")
                signed = self.account.sign_transaction(tx)
                try:
                    raw: bytes = bytes(signed.raw_transaction)

                    def submit(raw: bytes = raw) -> bytes:
                        return bytes(self.w3.eth.send_raw_transaction(raw))

                    tx_hash = self._rpc(submit)
                except Web3RPCError as exc:
                    text = str(exc).lower()
                    if "nonce" in text or "already known" in text or "underpriced" in text:
                        time.sleep(self.retry.backoff_s * 2**attempt)
                        continue
                    if "insufficient funds" in text:
                        raise self._unfunded() from None
                    raise EvmError(str(exc)) from None
                receipt = self._wait(tx_hash)
                if not receipt.status:
                    raise TransactionReverted("reverted on chain", tx_hash)
                return receipt
            raise EvmError("transaction not accepted after retries (nonce races?)")

    def _wait(self, tx_hash: bytes) -> TxReceipt:
        deadline = time.monotonic() + self.retry.confirm_timeout_s
        while time.monotonic() < deadline:
            receipt = self.receipt(tx_hash)
            if receipt is not None:
                return receipt
            time.sleep(self.retry.poll_s)
        raise ConfirmationTimeout(f"0x{tx_hash.hex()} not mined in {self.retry.confirm_timeout_s}s")

    def deploy(self, initcode: bytes) -> TxReceipt:
        return self._transact(None, initcode)

    def send(self, to: str, data: bytes) -> TxReceipt:
        return self._transact(to, data)

    def call(self, to: str, data: bytes) -> bytes:
        from web3.exceptions import ContractLogicError

        tx: dict[str, Any] = {"from": self.sender, "to": to_checksum_address(to), "data": data}
        try:
            return bytes(self._rpc(lambda: self.w3.eth.call(tx)))  # type: ignore[arg-type]
        except ContractLogicError as exc:
            data_hex = exc.data if isinstance(exc.data, str) else None
            reason = revert_reason(bytes.fromhex(data_hex[2:])) if data_hex else str(exc.message)
            raise TransactionReverted(reason.removeprefix("execution reverted: ")) from None

    def code(self, address: str) -> bytes:
        return bytes(self._rpc(lambda: self.w3.eth.get_code(to_checksum_address(address))))

    def block_number(self) -> int:
        return int(self._rpc(lambda: self.w3.eth.block_number))

    def receipt(self, tx_hash: bytes) -> TxReceipt | None:
        from web3.exceptions import TransactionNotFound

        try:
            r = self._rpc(lambda: self.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        logs = tuple(_web3_log(x) for x in r["logs"])
        address = r.get("contractAddress")
        return TxReceipt(
            bytes(r["transactionHash"]),
            int(r["blockNumber"]),
            int(r["gasUsed"]),
            bool(r["status"]),
            None if address is None else to_checksum_address(address),
            logs,
        )

    def transaction_input(self, tx_hash: bytes) -> bytes:
        tx = self._rpc(lambda: self.w3.eth.get_transaction(tx_hash))  # type: ignore[arg-type]
        return bytes(tx["input"])

    def logs(self, address: str, from_block: int = 0, to_block: int | None = None) -> list[Log]:
        params: dict[str, Any] = {
            "address": to_checksum_address(address),
            "fromBlock": from_block,
            "toBlock": "latest" if to_block is None else to_block,
        }
        raw = self._rpc(lambda: self.w3.eth.get_logs(params))  # type: ignore[arg-type]
        return [_web3_log(x) for x in raw]

    def block_hash(self, number: int) -> bytes | None:
        from web3.exceptions import BlockNotFound

        try:
            block = self._rpc(lambda: self.w3.eth.get_block(number))
        except BlockNotFound:
            return None
        return bytes(block["hash"])


def open_client(
    rpc_url: str | None = None,
    private_key: bytes | None = None,
    path: Path | str | None = None,
    confirmations: int = 1,
) -> EvmClient:
    """The embedded chain (persisted at `path`), or the node at `rpc_url`."""
    key = private_key if private_key is not None else DEFAULT_KEY
    if rpc_url:
        return Web3Client(rpc_url, key, confirmations)
    return EmbeddedClient(path, key, confirmations=confirmations)
