"""The Rollup contract from Python: deploy it, commit batches, read it back.

The node's batch lifecycle maps onto this module as:

    proven     ->  commit_batches([...])             -> committed (CommitReceipt.tx_hash)
    committed  ->  rollup.client.is_final(tx_hash)   -> final (after N confirmations)

Every revert is raised as a typed `BatchRejected` subclass, so callers can tell
"my proof is wrong" (a bug: stop) from "someone else is the sequencer"
(configuration) from "the chain moved" (resync).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import groth16py
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from bitcoinzk.da.batch import batch_hash, withdrawals, withdrawals_hash
from bitcoinzk.da.evm import forced_from_event
from bitcoinzk.settlement.evm.abi import Abi, Event
from bitcoinzk.settlement.evm.client import EvmClient, EvmError, TransactionReverted, TxReceipt
from bitcoinzk.settlement.evm.contracts import (
    MAX_BATCHES,
    CompiledContract,
    compile_rollup,
    compile_source,
    compile_verifier,
    rollup_source,
    vk_digest,
)
from bitcoinzk.settlement.evm.exit.circuit import (
    ExitShape,
    compile_exit_verifier,
    ensure_exit_keys,
    exit_key_files,
)
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.pubdata import BlockPubdata
from bitcoinzk.spec.types import ForcedWithdraw

PROOF_BYTES = 256

DEFAULT_FORCED_DEADLINE = 7 * 24 * 3600
"""Seconds a queued forced withdrawal may wait for a batch (production: a week, as
Loopring's 15 days and zkSync Lite's 14 days are of the same order; devnet.toml and
tests use minutes)."""


class BatchRejected(TransactionReverted):
    """The Rollup contract refused a batch; nothing on-chain changed."""


class InvalidProof(BatchRejected):
    """The proof does not verify for the public input the contract recomputed."""


class NotSequencer(BatchRejected):
    """The sender is not the configured sequencer."""


class InExodus(BatchRejected):
    """The rollup is in exodus mode: it takes no batch ever again, only exit claims."""


class MalformedBatch(BatchRejected):
    """The calldata is not a well-formed batch for this contract's block size."""


class ForcedNotProcessed(BatchRejected):
    """The batch skips a due forced withdrawal, or claims one when none is queued."""


class DeploymentMismatch(EvmError):
    """The rollup a node was pointed at was not deployed for this node's chain.

    Its message is one line naming every value that differs, for the CLI to print.
    """


def _typed(exc: TransactionReverted) -> BatchRejected:
    reason = exc.reason
    if "not the sequencer" in reason:
        return NotSequencer(reason, exc.tx_hash)
    if reason == "rollup: exodus":
        return InExodus(reason, exc.tx_hash)
    if "invalid proof" in reason or reason.startswith("verifier-"):
        return InvalidProof(reason, exc.tx_hash)
    if "forced withdrawal" in reason:
        return ForcedNotProcessed(reason, exc.tx_hash)
    return MalformedBatch(reason, exc.tx_hash)


def next_chain_hash(
    previous: bytes, new_root: int, batch_hash: bytes, withdrawals_hash: bytes
) -> bytes:
    """c_n = keccak256(c_(n-1) || new_root || batch_hash || withdrawals_hash), c_0 = 0.

    The contract stores this chain at the last batch of each commit; a node that
    recomputes it from its own blocks checks every committed batch at once.
    """
    return keccak(previous + new_root.to_bytes(32, "big") + batch_hash + withdrawals_hash)


GENESIS_CHAIN_HASH = bytes(32)
SCALAR_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617


def batch_weights(proofs: Sequence[bytes], inputs: Sequence[int]) -> list[int]:
    """The weights r_i the verifier's `verifyBatch` gives k proofs (docs/settlement.md).

    r_0 = 1; r_i = keccak256(seed || i) mod r with seed = keccak256(abi.encode(proofs,
    inputs)): fixed by the proofs and the public inputs the contract recomputed, so a
    submitter cannot pick them, only re-roll them by changing a proof.
    """
    seed = keccak(
        abi_encode(["uint256[8][]", "uint256[]"], [[proof_words(p) for p in proofs], list(inputs)])
    )
    return [1] + [
        int.from_bytes(keccak(seed + i.to_bytes(32, "big")), "big") % SCALAR_FIELD
        for i in range(1, len(proofs))
    ]


def proof_words(proof: bytes) -> list[int]:
    """256 proof bytes (a.x a.y b.x.c1 b.x.c0 b.y.c1 b.y.c0 c.x c.y) as the ABI's uint256[8]."""
    if len(proof) != PROOF_BYTES:
        raise ValueError(f"a Groth16 proof is {PROOF_BYTES} bytes, got {len(proof)}")
    return [int.from_bytes(proof[i : i + 32], "big") for i in range(0, PROOF_BYTES, 32)]


@dataclass(frozen=True)
class Deployment:
    """Where a rollup lives and what it was built for; saved by `bzk settle deploy`."""

    rollup: str
    verifier: str
    sequencer: str
    genesis_root: int
    chain_id: int
    fee_account: int
    block_slots: int
    block_records: int
    deploy_block: int
    forced_deadline: int = DEFAULT_FORCED_DEADLINE
    exit_verifier: str = ""
    """The exit circuit's verifier ("" in files written before exodus existed)."""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["genesis_root"] = hex(self.genesis_root)
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Deployment:
        data = dict(obj)
        data["genesis_root"] = int(str(data["genesis_root"]), 16)
        return cls(**data)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Deployment:
        return cls.from_json(json.loads(path.read_text()))

    def params(self) -> ChainParams:
        """The chain values the contract binds into every batch hash (the tree depth is
        not one of them, so the default stands in for it)."""
        return ChainParams(
            chain_id=self.chain_id,
            block_slots=self.block_slots,
            block_records=self.block_records,
            fee_account=self.fee_account,
        )


@dataclass(frozen=True)
class CommitReceipt:
    """A batch the contract accepted."""

    batch_number: int
    tx_hash: bytes
    block_number: int
    gas_used: int
    calldata_bytes: int
    new_root: int
    batch_hash: bytes
    withdrawals_hash: bytes
    withdrawals: int
    # gas before the EIP-7623 calldata floor, when the client can tell (embedded py-evm)
    standard_gas: int | None = None
    chain_hash: bytes = GENESIS_CHAIN_HASH
    batches_in_tx: int = 1
    """How many batches the transaction committed: gas_used and calldata_bytes are the
    whole transaction's, shared by that many batches."""


@dataclass(frozen=True)
class CommittedBatch:
    """A batch as its BatchCommitted event states it (checked against the contract's slot)."""

    batch_number: int
    old_root: int
    new_root: int
    batch_hash: bytes
    withdrawals_hash: bytes
    withdrawals: int
    tx_hash: bytes
    chain_hash: bytes = GENESIS_CHAIN_HASH


class ForcedRejected(TransactionReverted):
    """The contract refused a forced withdrawal request (its reason is one line)."""


@dataclass(frozen=True)
class ForcedReceipt:
    """A forced withdrawal the contract queued."""

    index: int
    deadline: int
    tx_hash: bytes
    block_number: int
    gas_used: int


def rollup_abi() -> Abi:
    """The Rollup ABI (independent of the block size it is compiled for)."""
    return Abi(
        compile_source(rollup_source(ChainParams(block_slots=2, block_records=1)), "Rollup").abi
    )


class Rollup:
    """A deployed Rollup contract seen through one EVM client."""

    def __init__(self, client: EvmClient, deployment: Deployment) -> None:
        self.client = client
        self.deployment = deployment
        self.address = deployment.rollup
        self.abi = rollup_abi()

    def with_client(self, client: EvmClient) -> Rollup:
        return Rollup(client, self.deployment)

    def _view(self, name: str, *args: Any) -> Any:
        raw = self.client.call(self.address, self.abi.encode_call(name, *args))
        return self.abi.decode_result(name, raw)

    # --- views -------------------------------------------------------------------

    def state_root(self) -> int:
        return int(self._view("stateRoot"))

    def batch_count(self) -> int:
        return int(self._view("batch_count"))

    def chain_hash_of(self, batch_number: int) -> bytes:
        """The stored chain hash c_n: non-zero only where a commit ended (zero for n = 0)."""
        return bytes(self._view("chainHashOf", batch_number))

    def head(self) -> tuple[int, int, bytes]:
        """(batch_count, state root, c_batch_count), read in one call."""
        count, root, chain = self._view("head")
        return int(count), int(root), bytes(chain)

    def committed(self) -> list[CommittedBatch]:
        """Every committed batch, from the BatchCommitted events, each checked on-chain.

        The events carry each batch's values and its chain hash c_n; this recomputes
        the chain from the values and requires the stored c_n wherever a commit ended
        (the last batch of each transaction), so a value is returned only once the
        contract's own storage vouches for it.
        """
        out: list[CommittedBatch] = []
        chain = GENESIS_CHAIN_HASH
        events = [e for e in self.events() if e.name == "BatchCommitted"]
        for i, event in enumerate(events):
            a = event.args
            batch = CommittedBatch(
                int(a["batch_number"]),
                int(a["old_root"]),
                int(a["new_root"]),
                bytes(a["batch_hash"]),
                bytes(a["withdrawals_hash"]),
                int(a["withdrawals"]),
                event.tx_hash,
                bytes(a["chain_hash"]),
            )
            chain = next_chain_hash(chain, batch.new_root, batch.batch_hash, batch.withdrawals_hash)
            last_of_tx = i + 1 == len(events) or events[i + 1].tx_hash != event.tx_hash
            if (
                batch.batch_number != len(out) + 1
                or batch.chain_hash != chain
                or (last_of_tx and self.chain_hash_of(batch.batch_number) != chain)
            ):
                raise BatchRejected(
                    f"event for batch {batch.batch_number} does not match the chain"
                )
            out.append(batch)
        return out

    def committed_batch(self, batch_number: int) -> CommittedBatch:
        batches = self.committed()
        if not 1 <= batch_number <= len(batches):
            raise LookupError(f"no batch {batch_number}")
        return batches[batch_number - 1]

    def root_of(self, batch_number: int) -> int:
        """The state root after `batch_number` (0: genesis)."""
        if batch_number == 0:
            return int(self._view("GENESIS_ROOT"))
        return self.committed_batch(batch_number).new_root

    def batch_hash_of(self, batch_number: int) -> bytes:
        """SHA-256 of the batch's public-input preimage (256 bits, not cut)."""
        return self.committed_batch(batch_number).batch_hash

    def withdrawals_hash_of(self, batch_number: int) -> bytes:
        """The chained withdrawal hash the bridge checks its payouts against."""
        return self.committed_batch(batch_number).withdrawals_hash

    def sequencer(self) -> str:
        return str(to_checksum_address(self._view("sequencer")))

    # --- exodus (docs/protocol.md, "Exodus"; claims: bitcoinzk/settlement/evm/exit/claim.py) ------

    def in_exodus(self) -> bool:
        return bool(self._view("exodus"))

    def exited(self, account: int) -> bool:
        """Whether `account` has claimed its exit."""
        return bool(self._view("exited", account))

    def activate_exodus(self) -> TxReceipt:
        """Start exodus mode (anyone may, once a forced request is overdue)."""
        try:
            return self.client.send(self.address, self.abi.encode_call("activateExodus"))
        except TransactionReverted as exc:
            raise _typed(exc) from None

    def settled_batch_matches(
        self,
        batch_number: int,
        batch_data: bytes,
        old_root: int,
        new_root: int,
        block: int | None = None,
        forced_digest: int = 0,
    ) -> bool:
        """Whether the contract's batch `batch_number` is exactly this block.

        `forced_digest`: the digest of the queued request the block's slot 0 processes
        (`ForcedWithdraw.digest`), which the batch hash covers but the batch data omits.

        The values (roots, batch_hash, withdrawals_hash) are computed here from the
        block; batch_hash covers the block number, both roots, the chain values and
        the whole pubdata. They must equal the batch's BatchCommitted event, whose
        chain link c_n must follow from c_(n-1) and them, and the chain continued
        over the rest of that transaction's batches must equal the one word the
        contract stored for it (`chainHashOf`). So "the contract holds some batch
        n" never passes for "the contract holds this block n".

        `block`: the settlement block of the commit, when known, so only that
        block's events are read (the node checks every batch it finalizes: reading
        every event each time would grow with the chain). c_(n-1) comes from the
        same transaction's previous event, else from storage (a commit ended at
        n - 1, so the contract stored c_(n-1)); events elsewhere are not needed.
        """
        pubdata = replace(BlockPubdata.from_bytes(batch_data), forced_digest=forced_digest)
        digest = batch_hash(self.deployment.params(), batch_number, old_root, new_root, pubdata)
        w_hash = withdrawals_hash(withdrawals(pubdata))
        events = self._batch_events(batch_number, block)
        at = next(
            (i for i, e in enumerate(events) if int(e.args["batch_number"]) == batch_number), None
        )
        if at is None:
            return False
        a = events[at].args
        if (int(a["old_root"]), int(a["new_root"]), bytes(a["batch_hash"])) != (
            old_root,
            new_root,
            digest,
        ) or bytes(a["withdrawals_hash"]) != w_hash:
            return False
        tx = events[at].tx_hash
        if at > 0 and events[at - 1].tx_hash == tx:
            chain = bytes(events[at - 1].args["chain_hash"])
        elif batch_number == 1:
            chain = GENESIS_CHAIN_HASH
        else:
            chain = self.chain_hash_of(batch_number - 1)
        last = batch_number
        for event in events[at:]:
            if event.tx_hash != tx:
                break
            e = event.args
            chain = next_chain_hash(
                chain, int(e["new_root"]), bytes(e["batch_hash"]), bytes(e["withdrawals_hash"])
            )
            if bytes(e["chain_hash"]) != chain:
                return False
            last = int(e["batch_number"])
        return self.chain_hash_of(last) == chain

    def _batch_events(self, batch_number: int, block: int | None) -> list[Event]:
        """BatchCommitted events of `block` if it holds batch `batch_number`, else all."""
        if block is not None:
            found = [e for e in self.events(block, block) if e.name == "BatchCommitted"]
            if any(int(e.args["batch_number"]) == batch_number for e in found):
                return found
        return [e for e in self.events() if e.name == "BatchCommitted"]

    def settlement_tx_of(self, batch_number: int) -> tuple[bytes, int] | None:
        """(transaction, block) that committed `batch_number`, from its BatchCommitted event."""
        for event in self.events():
            if event.name == "BatchCommitted" and int(event.args["batch_number"]) == batch_number:
                return event.tx_hash, event.block_number
        return None

    def check_deployment(
        self,
        params: ChainParams,
        genesis_root: int,
        vk: groth16py.VerifyingKey | None,
        circuit: str = "unknown",
    ) -> None:
        """Raise DeploymentMismatch unless this contract was deployed for this chain.

        Read from the chain itself, not from settlement.json (a copy from another
        data directory names another deployment): the genesis root, the chain id
        and fee account bound into every proof, the block shape the contract was
        compiled for, the verifier's code (the one `vk` generates), the exit
        verifier's (the one of this machine's exit key, when it has one), and that
        this client signs as the sequencer. A node settling to another chain's contract
        would see its batch count and take it for its own.
        """
        where = f"settlement.json names rollup {self.address}"
        if not self.client.code(self.address):
            raise DeploymentMismatch(f"{where}, but there is no contract there on this chain")
        try:
            on_chain = {
                "genesis root": hex(int(self._view("GENESIS_ROOT"))),
                "chain id": int(self._view("CHAIN_ID")),
                "fee account": int(self._view("FEE_ACCOUNT")),
                "shape (slots, records)": self.shape(),
            }
            verifier = str(to_checksum_address(self._view("VERIFIER")))
            sequencer = self.sequencer()
        except (EvmError, ValueError) as exc:
            raise DeploymentMismatch(f"{where}, which is not a bitcoinzk rollup ({exc})") from None
        mine: dict[str, object] = {
            "genesis root": hex(genesis_root),
            "chain id": params.chain_id,
            "fee account": params.fee_account,
            "shape (slots, records)": (params.block_slots, params.block_records),
        }
        wrong = [
            f"{name} {on_chain[name]} on the contract, {mine[name]} here"
            for name in mine
            if on_chain[name] != mine[name]
        ]
        if vk is not None:
            expected = compile_verifier(vk, circuit).runtime
            if self.client.code(verifier) != expected:
                wrong.append(
                    f"its verifier {verifier} is not the one for this node's verifying key "
                    f"sha256={vk_digest(vk)[:16]}…"
                )
        exit_keys = exit_key_files(ExitShape(params.tree_depth))
        if vk is not None and exit_keys.exists():
            exit_verifier = str(to_checksum_address(self._view("EXIT_VERIFIER")))
            exit_vk = exit_keys.load_verifying_key()
            expected_exit = compile_exit_verifier(exit_vk, exit_keys.circuit_id).runtime
            if self.client.code(exit_verifier) != expected_exit:
                wrong.append(
                    f"its exit verifier {exit_verifier} is not the one for this node's exit key "
                    f"sha256={vk_digest(exit_vk)[:16]}…"
                )
        if sequencer != to_checksum_address(self.client.sender):
            wrong.append(f"its sequencer is {sequencer}, this node signs as {self.client.sender}")
        if wrong:
            raise DeploymentMismatch(f"{where}, deployed for another chain: " + "; ".join(wrong))

    def public_input_of(self, batch_data: bytes, new_root: int) -> int:
        return int(self._view("publicInputOf", batch_data, new_root))

    def shape(self) -> tuple[int, int]:
        slots, records = self._view("shape")
        return int(slots), int(records)

    def snapshot(self) -> dict[str, Any]:
        """Everything the contract exposes about its chain of batches (for tests and status)."""
        count = self.batch_count()
        batches = self.committed()
        assert len(batches) == count, "events and batch_count disagree"
        return {
            "batch_count": count,
            "state_root": self.state_root(),
            "sequencer": self.sequencer(),
            "roots": [self.root_of(0)] + [b.new_root for b in batches],
            "batch_hashes": [b.batch_hash for b in batches],
            "withdrawals": [b.withdrawals_hash for b in batches],
            "chain_hashes": [self.chain_hash_of(n) for n in range(count + 1)],
        }

    # --- transactions ------------------------------------------------------------

    def commit_calldata(self, batch_data: bytes, new_root: int, proof: bytes) -> bytes:
        """commitBatch: one block, without the memory commitBatches' k-block argument takes."""
        return self.abi.encode_call("commitBatch", batch_data, new_root, proof_words(proof))

    def commits_calldata(self, batches: Sequence[tuple[bytes, int, bytes]]) -> bytes:
        """The calldata that commits these blocks: commitBatch for one, else commitBatches."""
        if len(batches) == 1:
            return self.commit_calldata(*batches[0])
        return self.abi.encode_call(
            "commitBatches",
            [b for b, _, _ in batches],
            [r for _, r, _ in batches],
            [proof_words(p) for _, _, p in batches],
        )

    def commit_batch(self, batch_data: bytes, new_root: int, proof: bytes) -> CommitReceipt:
        """Commit the next batch; raises a BatchRejected subclass if the contract refuses."""
        return self.commit_batches([(batch_data, new_root, proof)])[0]

    def commit_batches(self, batches: Sequence[tuple[bytes, int, bytes]]) -> list[CommitReceipt]:
        """Commit the next k batches (batch_data, new_root, proof) in one transaction,
        their proofs checked by one batched pairing check; all or nothing."""
        if not 1 <= len(batches) <= MAX_BATCHES:
            raise ValueError(f"commit 1 to {MAX_BATCHES} batches at once, not {len(batches)}")
        data = self.commits_calldata(batches)
        try:
            receipt = self.client.send(self.address, data)
        except TransactionReverted as exc:
            raise _typed(exc) from None
        out: list[CommitReceipt] = []
        for log in receipt.logs:
            event = self.abi.decode_log(
                list(log.topics), log.data, log.block_number, log.tx_hash, log.log_index
            )
            if event is not None and event.name == "BatchCommitted":
                a = event.args
                out.append(
                    CommitReceipt(
                        int(a["batch_number"]),
                        receipt.tx_hash,
                        receipt.block_number,
                        receipt.gas_used,
                        len(data),
                        int(a["new_root"]),
                        bytes(a["batch_hash"]),
                        bytes(a["withdrawals_hash"]),
                        int(a["withdrawals"]),
                        receipt.standard_gas,
                        bytes(a["chain_hash"]),
                        len(batches),
                    )
                )
        if len(out) != len(batches):
            raise BatchRejected(
                f"commitBatches logged {len(out)} BatchCommitted events for {len(batches)} batches",
                receipt.tx_hash,
            )
        return out

    # --- the forced-withdrawal queue (docs/protocol.md, "Forced withdrawals") ---------

    def chain_id(self) -> int:
        return int(self._view("CHAIN_ID"))

    def forced_head(self) -> int:
        return int(self._view("forced_head"))

    def forced_tail(self) -> int:
        return int(self._view("forced_tail"))

    def forced_due(self) -> bool:
        """True when the oldest waiting request is past its deadline (exodus may start)."""
        return bool(self._view("forcedDue"))

    def forced_deadline(self, index: int) -> int:
        return int(self._view("forced_deadline", index))

    def forced_digest(self, index: int) -> int:
        return int(self._view("forced_digest", index))

    def force_withdraw(self, request: ForcedWithdraw) -> ForcedReceipt:
        """Queue a signed withdrawal on the contract (the client's key pays the gas).

        Raises `ForcedRejected` with the contract's one-line reason if it refuses."""
        sig = request.signature
        data = self.abi.encode_call(
            "forceWithdraw",
            request.sender,
            request.script_pubkey,
            request.amount,
            request.fee,
            request.nonce,
            sig.r8x,
            sig.r8y,
            sig.s,
        )
        try:
            receipt = self.client.send(self.address, data)
        except TransactionReverted as exc:
            raise ForcedRejected(exc.reason, exc.tx_hash) from None
        for log in receipt.logs:
            event = self.abi.decode_log(
                list(log.topics), log.data, log.block_number, log.tx_hash, log.log_index
            )
            if event is not None and event.name == "ForcedWithdrawalRequested":
                return ForcedReceipt(
                    int(event.args["index"]),
                    int(event.args["deadline"]),
                    receipt.tx_hash,
                    receipt.block_number,
                    receipt.gas_used,
                )
        raise ForcedRejected("forceWithdraw logged no ForcedWithdrawalRequested", receipt.tx_hash)

    def forced_requests(
        self, from_block: int | None = None, to_block: int | None = None
    ) -> list[ForcedWithdraw]:
        """The queued requests in index order, from the ForcedWithdrawalRequested events."""
        out = []
        for event in self.events(from_block, to_block):
            if event.name == "ForcedWithdrawalRequested":
                out.append(forced_from_event(event.args))
        return sorted(out, key=lambda r: r.index)

    def set_sequencer(self, address: str) -> None:
        try:
            self.client.send(self.address, self.abi.encode_call("setSequencer", address))
        except TransactionReverted as exc:
            raise _typed(exc) from None

    def transaction_input(self, tx_hash: bytes) -> bytes:
        return self.client.transaction_input(tx_hash)

    def decode_commits(self, calldata: bytes) -> list[tuple[bytes, int, bytes]]:
        """[(batch_data, new_root, proof)] from a commitBatch(es) transaction's calldata."""
        if calldata[:4] == self.abi.selector("commitBatch"):
            data, root, words = self.abi.decode_call("commitBatch", calldata)
            return [(bytes(data), int(root), b"".join(w.to_bytes(32, "big") for w in words))]
        datas, roots, proofs = self.abi.decode_call("commitBatches", calldata)
        return [
            (bytes(d), int(r), b"".join(w.to_bytes(32, "big") for w in words))
            for d, r, words in zip(datas, roots, proofs, strict=True)
        ]

    def decode_commit(self, calldata: bytes, index: int = 0) -> tuple[bytes, int, bytes]:
        """(batch_data, new_root, proof) of the `index`-th batch a commit transaction carries."""
        commits = self.decode_commits(calldata)
        if not 0 <= index < len(commits):
            raise ValueError(f"the commit carries {len(commits)} batches, no index {index}")
        return commits[index]

    def events(self, from_block: int | None = None, to_block: int | None = None) -> list[Event]:
        start = self.deployment.deploy_block if from_block is None else from_block
        out = []
        for log in self.client.logs(self.address, start, to_block):
            event = self.abi.decode_log(
                list(log.topics), log.data, log.block_number, log.tx_hash, log.log_index
            )
            if event is not None:
                out.append(replace(event, block_hash=log.block_hash))
        return out


def deploy(
    client: EvmClient,
    vk: groth16py.VerifyingKey,
    params: ChainParams,
    genesis_root: int,
    sequencer: str | None = None,
    circuit: str = "unknown",
    verifier: CompiledContract | None = None,
    forced_deadline: int = DEFAULT_FORCED_DEADLINE,
) -> Rollup:
    """Deploy the verifier generated from `vk`, then a Rollup bound to it.

    The verifier is generated from the very key the prover uses (never a stale
    file), and the Rollup is compiled for the chain's block size.
    """
    compiled_verifier = verifier if verifier is not None else compile_verifier(vk, circuit)
    return deploy_with_verifier(
        client, compiled_verifier, params, genesis_root, sequencer, forced_deadline
    )


def deploy_with_verifier(
    client: EvmClient,
    verifier: CompiledContract,
    params: ChainParams,
    genesis_root: int,
    sequencer: str | None = None,
    forced_deadline: int = DEFAULT_FORCED_DEADLINE,
    exit_verifier: CompiledContract | None = None,
) -> Rollup:
    """Deploy `verifier` as it is, the exit verifier (default: the one of the exit
    circuit's key for `params.tree_depth`, made once and cached), then a Rollup bound
    to both."""
    v_receipt = client.deploy(verifier.bytecode)
    assert v_receipt.contract_address is not None
    if exit_verifier is None:
        keys = ensure_exit_keys(ExitShape(params.tree_depth))
        exit_verifier = compile_exit_verifier(keys.load_verifying_key(), keys.circuit_id)
    e_receipt = client.deploy(exit_verifier.bytecode)
    assert e_receipt.contract_address is not None
    rollup = compile_rollup(params)
    seq = sequencer if sequencer is not None else client.sender
    args = Abi(rollup.abi).encode_constructor(
        v_receipt.contract_address,
        seq,
        genesis_root,
        params.chain_id,
        params.fee_account,
        forced_deadline,
        e_receipt.contract_address,
    )
    r_receipt = client.deploy(rollup.bytecode + args)
    assert r_receipt.contract_address is not None
    deployment = Deployment(
        rollup=r_receipt.contract_address,
        verifier=v_receipt.contract_address,
        sequencer=seq,
        genesis_root=genesis_root,
        chain_id=params.chain_id,
        fee_account=params.fee_account,
        block_slots=params.block_slots,
        block_records=params.block_records,
        deploy_block=r_receipt.block_number,
        forced_deadline=forced_deadline,
        exit_verifier=e_receipt.contract_address,
    )
    return Rollup(client, deployment)


def commit_batch(rollup: Rollup, batch_data: bytes, new_root: int, proof: bytes) -> CommitReceipt:
    """Function form of `Rollup.commit_batch`, for the node's batch loop."""
    return rollup.commit_batch(batch_data, new_root, proof)
