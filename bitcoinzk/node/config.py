"""One TOML file configures every component; every key has a documented default.

See docs/config.md for the annotated file. Embedded engines are the defaults;
`settlement.rpc` and `bitcoin.rpc` point at external nodes instead.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bitcoinzk.l2.params import ChainParams
from bitcoinzk.settlement.contracts import MAX_BATCHES

WITNESS_BACKENDS = frozenset({"node", "wasmi", "auto"})
PROVER_FLEETS = frozenset({"local", "ray"})
PROVER_BACKENDS = frozenset({"native", "groth16py", "auto"})


@dataclass
class ChainSection:
    chain_id: int = 1337
    tree_depth: int = 9
    block_slots: int = 2
    block_records: int = 1
    fee_account: int = 0

    def params(self) -> ChainParams:
        return ChainParams(
            chain_id=self.chain_id,
            tree_depth=self.tree_depth,
            block_slots=self.block_slots,
            block_records=self.block_records,
            fee_account=self.fee_account,
        )


@dataclass
class NodeSection:
    data_dir: str = "data/devnet"
    host: str = "127.0.0.1"
    port: int = 8545
    block_time: float = 1.0
    min_fee: int = 1


@dataclass
class ProverSection:
    enabled: bool = True
    key_dir: str = ""  # empty: ~/.cache/bitcoinzk/keys (or $BZK_KEY_DIR)
    witness: str = "node"  # "node": circom2 JIT witness (compiled once); "wasmi": in-process
    parallel: int = 1  # blocks proven at once with one key (per Ray actor); a proof uses one core
    fleet: str = "local"  # "local": prover processes here; "ray": actors on a Ray cluster
    ray_address: str = ""  # empty: a Ray instance on this machine; "host:port" / "ray://host:port"
    ray_workers: int = 0  # prover actors; 0: one per `bzk_prover` slot (local instance: 1)
    ray_max_restarts: int = -1  # times Ray restarts a crashed prover actor; -1: always
    max_backlog: int = 32  # refuse transactions while this many blocks await proofs (0: never)
    # "native": the Rust prover on every core (witness by node on the circuit's .wasm);
    # "groth16py": one core per proof, the reference; "auto": native where it is built
    backend: str = "auto"


@dataclass
class SettlementSection:
    rpc: str = ""  # empty: embedded py-evm in the data directory
    evm_key: str = ""  # empty: the embedded chain's dev key
    confirmations: int = 1
    commit_max: int = 16  # batches per commitBatches transaction, proofs checked together


@dataclass
class BitcoinSection:
    rpc: str = ""  # empty: embedded regtest chain on libbitcoinkernel
    rpc_port: int = 18443  # the embedded node's bitcoind-compatible RPC (0: off)
    block_time: float = 2.0  # embedded chain: seconds between mined blocks (keep-running)


@dataclass
class BridgeSection:
    signers: int = 3
    threshold: int = 2
    deposit_confirmations: int = 3
    refund_timelock: int = 144
    sweep_margin: int = 72  # blocks left before a refund matures, below which no credit
    payout_fee_rate: float = 2.0  # sat/vB of sweeps and payouts; users are charged for it


@dataclass
class Config:
    chain: ChainSection = field(default_factory=ChainSection)
    node: NodeSection = field(default_factory=NodeSection)
    prover: ProverSection = field(default_factory=ProverSection)
    settlement: SettlementSection = field(default_factory=SettlementSection)
    bitcoin: BitcoinSection = field(default_factory=BitcoinSection)
    bridge: BridgeSection = field(default_factory=BridgeSection)

    @classmethod
    def load(cls, path: Path | None) -> Config:
        raw: dict[str, Any] = tomllib.loads(path.read_text()) if path else {}
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Config:
        config = cls()
        for section in fields(cls):
            values = raw.get(section.name, {})
            if not isinstance(values, dict):
                raise ValueError(f"[{section.name}] must be a table")
            target = getattr(config, section.name)
            known = {f.name: f.type for f in fields(target)}
            for key, value in values.items():
                if key not in known:
                    raise ValueError(f"unknown setting {section.name}.{key}")
                default = getattr(target, key)
                if isinstance(default, float) and isinstance(value, int):
                    value = float(value)
                if type(value) is not type(default):
                    raise ValueError(f"{section.name}.{key} must be {type(default).__name__}")
                setattr(target, key, value)
        if config.prover.parallel < 1:
            raise ValueError("prover.parallel must be at least 1")
        if config.prover.max_backlog < 0:
            raise ValueError("prover.max_backlog must be 0 (no bound) or more")
        if not 1 <= config.settlement.commit_max <= MAX_BATCHES:
            raise ValueError(f"settlement.commit_max must be 1..{MAX_BATCHES}")
        if config.prover.backend not in PROVER_BACKENDS:
            raise ValueError(f"prover.backend must be one of {sorted(PROVER_BACKENDS)}")
        if config.prover.fleet not in PROVER_FLEETS:
            raise ValueError(f"prover.fleet must be one of {sorted(PROVER_FLEETS)}")
        if config.prover.ray_workers < 0 or config.prover.ray_max_restarts < -1:
            raise ValueError("prover.ray_workers must be >= 0 and prover.ray_max_restarts >= -1")
        if config.prover.witness not in WITNESS_BACKENDS:
            raise ValueError(f"prover.witness must be one of {sorted(WITNESS_BACKENDS)}")
        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown sections: {sorted(unknown)}")
        return config
