"""One typed configuration for `bzk node` and `bzk devnet`: a TOML file, flags over it.

Every key has one default, here, and docs/config.md says why. The two commands
differ in three keys only, because they do different jobs (`COMMAND_DEFAULTS`):
where their data lives, and that the devnet proves and settles (its bridge pays
withdrawals only from settled batches) where a plain node does neither unless asked.

Precedence, lowest first: these defaults, the command's own defaults, the TOML file,
`--production` (the production shape), then each flag given. A key that is unknown or
a value that cannot be used is a `ConfigError` naming the key and what to write.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, cast

from bitcoinzk import safejson
from bitcoinzk.bridge.deposit import DEFAULT_REFUND_TIMELOCK
from bitcoinzk.bridge.fees import DEFAULT_FEE_RATE, FeePolicy
from bitcoinzk.bridge.watcher import DEFAULT_SWEEP_MARGIN
from bitcoinzk.httprpc import BODY_TIMEOUT, HEADER_TIMEOUT, HttpLimits
from bitcoinzk.node.server import NodeConfig
from bitcoinzk.prover.service import WitnessBackend
from bitcoinzk.sequencer.sequencer import SequencerConfig
from bitcoinzk.settlement.evm.contracts import MAX_BATCHES
from bitcoinzk.settlement.evm.rollup import DEFAULT_FORCED_DEADLINE
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import LEVEL_BITS, MAX_TREE_DEPTH, ChainParams

WITNESS_BACKENDS = ("auto", "node", "wasmi")
PROVER_FLEETS = ("local", "ray")
PROVER_BACKENDS = ("auto", "native", "groth16py")
DOCS = "docs/config.md lists every key"

Command = Literal["node", "devnet"]

DEV_SHAPE = {"tree_depth": 9, "block_slots": 2, "block_records": 1}
"""The default shape: a circuit whose key is made in seconds and cached."""
PRODUCTION_SHAPE = {"tree_depth": 24, "block_slots": 64, "block_records": 4}
"""`--production`: 2^24 accounts, 64 operations a proof (docs/prover.md)."""


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the key and what to write."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key} {problem}")
        self.key = key
        self.problem = problem


@dataclass
class ChainSection:
    chain_id: int = 1337
    tree_depth: int = DEV_SHAPE["tree_depth"]
    block_slots: int = DEV_SHAPE["block_slots"]
    block_records: int = DEV_SHAPE["block_records"]
    fee_account: int = 0
    genesis: str = ""  # a genesis file (`bzk genesis`); "": the command's own genesis

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
    data_dir: str = "data/node"  # `bzk devnet`: data/devnet (COMMAND_DEFAULTS)
    host: str = "127.0.0.1"
    port: int = 8545
    block_time: float = 1.0
    min_fee: int = 1
    max_block_txs: int = 0  # 0: the block's slots
    max_mempool: int = 200_000
    verify_workers: int = 0  # signature-check processes; 0: one per core
    http_header_timeout: float = HEADER_TIMEOUT
    http_body_timeout: float = BODY_TIMEOUT


@dataclass
class ProverSection:
    enabled: bool = False  # `bzk devnet`: true (COMMAND_DEFAULTS)
    key_dir: str = ""  # "": ~/.cache/bitcoinzk/keys (or $BZK_KEY_DIR)
    witness: str = "auto"  # groth16py's witness: "auto" (a cached circom2 build), "node", "wasmi"
    parallel: int = 1  # blocks proven at once with one key (per Ray actor)
    fleet: str = "local"  # "local": prover processes here; "ray": actors on a Ray cluster
    ray_address: str = ""  # "": a Ray instance on this machine; "host:port" / "ray://host:port"
    ray_workers: int = 0  # prover actors; 0: one per `bzk_prover` slot (local instance: 1)
    ray_max_restarts: int = -1  # times Ray restarts a crashed prover actor; -1: always
    max_backlog: int = 32  # refuse transactions while this many blocks await proofs (0: never)
    backend: str = "auto"  # "native" (Rust, every core), "groth16py", "auto" (native if built)


@dataclass
class SettlementSection:
    enabled: bool = False  # `bzk devnet`: true (COMMAND_DEFAULTS)
    rpc: str = ""  # "": embedded py-evm in the data directory; else an EVM JSON-RPC URL
    evm_key: str = ""  # "": the public dev key (funded on embedded chains only)
    confirmations: int = 1
    commit_max: int = MAX_BATCHES  # batches per commitBatches transaction
    forced_deadline: int = DEFAULT_FORCED_DEADLINE  # seconds a forced withdrawal may wait


@dataclass
class BitcoinSection:  # `bzk devnet` only: `bzk node` runs no bridge
    rpc: str = ""  # "": embedded regtest chain on libbitcoinkernel
    rpc_port: int = 18443  # the embedded node's bitcoind-compatible RPC (0: off)
    block_time: float = 2.0  # embedded chain: seconds between mined blocks (keep-running)


@dataclass
class BridgeSection:  # `bzk devnet` only
    signers: int = 3
    threshold: int = 2
    deposit_confirmations: int = 3
    refund_timelock: int = DEFAULT_REFUND_TIMELOCK
    sweep_margin: int = DEFAULT_SWEEP_MARGIN  # blocks left before a refund matures to credit
    payout_fee_rate: float = DEFAULT_FEE_RATE  # sat/vB of sweeps and payouts, charged to users


COMMAND_DEFAULTS: dict[Command, dict[str, Any]] = {
    "node": {},
    "devnet": {"node.data_dir": "data/devnet", "prover.enabled": True, "settlement.enabled": True},
}


@dataclass
class Config:
    chain: ChainSection = field(default_factory=ChainSection)
    node: NodeSection = field(default_factory=NodeSection)
    prover: ProverSection = field(default_factory=ProverSection)
    settlement: SettlementSection = field(default_factory=SettlementSection)
    bitcoin: BitcoinSection = field(default_factory=BitcoinSection)
    bridge: BridgeSection = field(default_factory=BridgeSection)
    explicit: set[str] = field(default_factory=set, compare=False, repr=False)
    """Keys set by the file or a flag (not defaults): they must agree with a genesis file."""

    @classmethod
    def defaults(cls, command: Command = "devnet") -> Config:
        config = cls()
        for key, value in COMMAND_DEFAULTS[command].items():
            section, name = key.split(".")
            setattr(getattr(config, section), name, value)
        return config

    @classmethod
    def load(
        cls,
        path: Path | None,
        command: Command = "devnet",
        flags: dict[str, tuple[str, Any]] | None = None,
        production: bool = False,
    ) -> Config:
        """The command's defaults, then the file, then `--production`, then `flags`
        ({"section.key": ("--flag", value)}: each error names the flag too)."""
        raw: dict[str, Any] = {}
        if path is not None:
            try:
                raw = tomllib.loads(path.read_text())
            except OSError as exc:
                raise ConfigError(str(path), f"cannot be read ({exc.strerror}): --config") from exc
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(str(path), f"is not TOML: {exc}") from exc
        try:
            config = cls.from_dict(raw, command)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc.key}", exc.problem) from None
        if production:
            for name, value in PRODUCTION_SHAPE.items():
                setattr(config.chain, name, value)
                config.explicit.add(f"chain.{name}")
        for key, (flag, value) in (flags or {}).items():
            try:
                config._set(key, value)
            except ConfigError as exc:
                raise ConfigError(f"{flag} ({key})", exc.problem) from None
        try:
            config.validate()
        except ConfigError as exc:
            given = (flags or {}).get(exc.key)
            if given is not None:
                raise ConfigError(f"{given[0]} ({exc.key})", exc.problem) from None
            raise
        return config

    @classmethod
    def from_dict(
        cls, raw: dict[str, Any], command: Command = "devnet", validate: bool = True
    ) -> Config:
        config = cls.defaults(command)
        sections = [f.name for f in fields(cls) if f.name != "explicit"]
        for name, values in raw.items():
            if name not in sections:
                raise ConfigError(
                    f"[{name}]", f"is not a section: {_did_you_mean(name, sections)}({DOCS})"
                )
            if not isinstance(values, dict):
                raise ConfigError(f"[{name}]", "must be a table of keys (docs/config.md)")
            for key, value in values.items():
                config._set(f"{name}.{key}", value)
        if validate:
            config.validate()
        return config

    def _set(self, key: str, value: Any) -> None:
        """One key from the file or a flag, with its type checked against its default."""
        section_name, _, name = key.partition(".")
        section = getattr(self, section_name)
        known = [f.name for f in fields(section)]
        if name not in known:
            full = [f"{section_name}.{k}" for k in known]
            raise ConfigError(key, f"is not a setting: {_did_you_mean(key, full)}({DOCS})")
        default = getattr(section, name)
        if isinstance(default, float) and type(value) is int:
            value = float(value)
        if type(value) is not type(default):
            example = {bool: "true or false", int: "a whole number", float: "a number"}.get(
                type(default), 'a "quoted" string'
            )
            raise ConfigError(key, f"must be {type(default).__name__} ({example}), not {value!r}")
        setattr(section, name, value)
        self.explicit.add(key)

    def validate(self) -> None:
        """Every value usable, or a ConfigError naming the first that is not."""
        c, n, p, s, b, br = (
            self.chain,
            self.node,
            self.prover,
            self.settlement,
            self.bitcoin,
            self.bridge,
        )
        _check(0 <= c.chain_id < 2**32, "chain.chain_id", "must be a u32 (0..4294967295)")
        _check(
            LEVEL_BITS <= c.tree_depth <= MAX_TREE_DEPTH and c.tree_depth % LEVEL_BITS == 0,
            "chain.tree_depth",
            f"must be a multiple of {LEVEL_BITS} in {LEVEL_BITS}..{MAX_TREE_DEPTH} (the tree "
            f"is 8-ary): 9 for the dev shape, 24 for production; got {c.tree_depth}",
        )
        _check(c.block_slots >= 1, "chain.block_slots", "must be at least 1 (2 dev, 64 production)")
        _check(
            c.block_records >= 1, "chain.block_records", "must be at least 1 (1 dev, 4 production)"
        )
        _check(
            0 <= c.fee_account < 2**c.tree_depth,
            "chain.fee_account",
            f"must be an account index in 0..{2**c.tree_depth - 1} (0 is usual)",
        )
        _check(0 <= n.port <= 65535, "node.port", "must be a TCP port in 0..65535")
        _check(n.block_time > 0, "node.block_time", "must be more than 0 seconds (1.0 is usual)")
        _check(n.min_fee >= 0, "node.min_fee", "must be 0 sats or more")
        _check(n.max_block_txs >= 0, "node.max_block_txs", "must be 0 (the block's slots) or more")
        _check(n.max_mempool >= 1, "node.max_mempool", "must be at least 1")
        _check(n.verify_workers >= 0, "node.verify_workers", "must be 0 (one per core) or more")
        for key in ("http_header_timeout", "http_body_timeout"):
            _check(getattr(n, key) > 0, f"node.{key}", "must be more than 0 seconds")
        _check(p.parallel >= 1, "prover.parallel", f"must be at least 1, got {p.parallel}")
        _check(p.max_backlog >= 0, "prover.max_backlog", "must be 0 (no bound) or more")
        _one_of(p.backend, PROVER_BACKENDS, "prover.backend")
        _one_of(p.fleet, PROVER_FLEETS, "prover.fleet")
        _one_of(p.witness, WITNESS_BACKENDS, "prover.witness")
        _check(p.ray_workers >= 0, "prover.ray_workers", "must be >= 0 (0: one per slot)")
        _check(p.ray_max_restarts >= -1, "prover.ray_max_restarts", "must be >= -1 (-1: always)")
        _check(
            s.rpc == "" or s.rpc.startswith(("http://", "https://")),
            "settlement.rpc",
            'must be "" (embedded py-evm) or an http:// or https:// URL',
        )
        if s.evm_key:
            _check(
                len(s.evm_key.removeprefix("0x")) == 64
                and all(ch in "0123456789abcdefABCDEF" for ch in s.evm_key.removeprefix("0x")),
                "settlement.evm_key",
                "must be a private key of 64 hex digits (0x optional)",
            )
        _check(s.confirmations >= 1, "settlement.confirmations", "must be at least 1")
        _check(
            1 <= s.commit_max <= MAX_BATCHES,
            "settlement.commit_max",
            f"must be 1..{MAX_BATCHES} (the contract takes {MAX_BATCHES} a call)",
        )
        _check(
            s.forced_deadline >= 1,
            "settlement.forced_deadline",
            "must be at least 1 second (devnet: minutes; production: days)",
        )
        _check(
            b.rpc == "" or b.rpc.startswith(("http://", "https://")),
            "bitcoin.rpc",
            'must be "" (embedded regtest) or http://user:password@host:port/',
        )
        _check(0 <= b.rpc_port <= 65535, "bitcoin.rpc_port", "must be a TCP port (0: off)")
        _check(b.block_time > 0, "bitcoin.block_time", "must be more than 0 seconds")
        _check(br.signers >= 1, "bridge.signers", "must be at least 1")
        _check(
            1 <= br.threshold <= br.signers,
            "bridge.threshold",
            f"must be 1..bridge.signers ({br.signers})",
        )
        _check(br.deposit_confirmations >= 1, "bridge.deposit_confirmations", "must be >= 1")
        _check(
            br.refund_timelock > br.sweep_margin >= 1,
            "bridge.sweep_margin",
            f"must be in 1..bridge.refund_timelock - 1 ({br.refund_timelock - 1})",
        )
        try:
            FeePolicy(br.payout_fee_rate)
        except ValueError as exc:
            raise ConfigError(
                "bridge.payout_fee_rate", str(exc).removeprefix("fee rate ")
            ) from None

    def genesis_file(self) -> Genesis | None:
        """`chain.genesis` read and checked, or None when it is not set. A chain key also
        set (file or flag) must agree with the genesis, which is what the chain is."""
        if not self.chain.genesis:
            return None
        genesis = load_genesis(Path(self.chain.genesis))
        for f in fields(ChainParams):
            key = f"chain.{f.name}"
            ours, theirs = getattr(self.chain, f.name), getattr(genesis.params, f.name)
            if key in self.explicit and ours != theirs:
                raise ConfigError(
                    key,
                    f"is {ours} but the genesis {self.chain.genesis} says {theirs}: "
                    "drop one of the two (the genesis is the chain)",
                )
        return genesis

    def node_config(self, data_dir: Path | None = None) -> NodeConfig:
        """What the node runs with; `data_dir`: the devnet's `l2/` under its own."""
        n, p, s = self.node, self.prover, self.settlement
        return NodeConfig(
            data_dir=data_dir if data_dir is not None else Path(n.data_dir),
            host=n.host,
            port=n.port,
            sequencer=SequencerConfig(
                block_time=n.block_time,
                max_block_txs=n.max_block_txs or None,
                min_fee=n.min_fee,
                max_mempool=n.max_mempool,
            ),
            verify_workers=n.verify_workers or None,
            prove=p.enabled,
            key_dir=Path(p.key_dir).expanduser() if p.key_dir else None,
            witness=cast(WitnessBackend, p.witness),
            prove_parallel=p.parallel,
            fleet=p.fleet,
            ray_address=p.ray_address,
            ray_workers=p.ray_workers,
            ray_max_restarts=p.ray_max_restarts,
            prover_backend=p.backend,
            settlement=(s.rpc or "embedded") if s.enabled else None,
            evm_key=bytes.fromhex(s.evm_key.removeprefix("0x")) if s.evm_key else None,
            confirmations=s.confirmations,
            http=HttpLimits(header_timeout=n.http_header_timeout, body_timeout=n.http_body_timeout),
            max_backlog=p.max_backlog,
            commit_max=s.commit_max,
            forced_deadline=s.forced_deadline,
        )


GENESIS_KEYS = (
    "chain_id",
    "tree_depth",
    "block_slots",
    "block_records",
    "fee_account",
    "operator",
    "allocations",
)


def load_genesis(path: Path) -> Genesis:
    """A genesis file (docs/config.md, "Genesis file"), every field checked; a
    ConfigError naming the file and the field otherwise."""
    where = f"genesis {path}"
    if not path.is_file():
        raise ConfigError(where, "does not exist: write one with `bzk genesis FILE`")
    try:
        obj = safejson.load_path(path)
    except ValueError as exc:
        raise ConfigError(where, f"is not JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise ConfigError(where, "must be a JSON object (`bzk genesis` writes one)")
    missing = [k for k in GENESIS_KEYS if k not in obj]
    unknown = sorted(set(obj) - set(GENESIS_KEYS))
    if missing or unknown:
        what = f"lacks {', '.join(missing)}" if missing else f"has unknown {', '.join(unknown)}"
        raise ConfigError(where, f"{what}: the fields are {', '.join(GENESIS_KEYS)}")
    for key in GENESIS_KEYS[:5]:
        if type(obj[key]) is not int:
            raise ConfigError(where, f"{key} must be an integer, not {obj[key]!r}")
    allocations = obj["allocations"]
    if not isinstance(allocations, list) or not all(
        isinstance(a, list) and len(a) == 2 and isinstance(a[0], str) and type(a[1]) is int
        for a in allocations
    ):
        raise ConfigError(where, 'allocations must be a list of ["<public key hex>", sats]')
    try:
        genesis = Genesis.from_json(obj)
        genesis.state()  # every balance in range, every account in the tree
    except (ValueError, IndexError, TypeError) as exc:
        raise ConfigError(where, f"is not a valid genesis: {exc}") from None
    return genesis


def _check(ok: bool, key: str, problem: str) -> None:
    if not ok:
        raise ConfigError(key, problem)


def _one_of(value: str, allowed: tuple[str, ...], key: str) -> None:
    _check(value in allowed, key, f"must be one of {', '.join(allowed)}, not {value!r}")


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {close[0]}? " if close else f"one of {', '.join(known)} "
