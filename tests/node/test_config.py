"""The one configuration of `bzk node` and `bzk devnet` (issue 13 §4): the same defaults
everywhere, file and flag precedence, and every unusable value refused by name."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from bitcoinzk.devnet.devnet import dev_genesis
from bitcoinzk.node.config import (
    COMMAND_DEFAULTS,
    DEV_SHAPE,
    PRODUCTION_SHAPE,
    Config,
    ConfigError,
    load_genesis,
)
from bitcoinzk.node.server import NodeConfig
from bitcoinzk.sequencer.sequencer import SequencerConfig

ROOT = Path(__file__).resolve().parents[2]


def _keys(config: Config) -> dict[str, Any]:
    """Every setting as {"section.key": value}."""
    return {
        f"{section.name}.{f.name}": getattr(getattr(config, section.name), f.name)
        for section in fields(config)
        if section.name != "explicit"
        for f in fields(getattr(config, section.name))
    }


# --- the same defaults everywhere


def test_node_and_devnet_defaults_differ_only_in_the_documented_keys() -> None:
    node, devnet = _keys(Config.defaults("node")), _keys(Config.defaults("devnet"))
    differ = {k for k in node if node[k] != devnet[k]}
    assert (
        differ
        == set(COMMAND_DEFAULTS["devnet"])
        == {
            "node.data_dir",
            "prover.enabled",
            "settlement.enabled",
        }
    )
    shape = Config.defaults("node").chain
    assert (shape.tree_depth, shape.block_slots, shape.block_records) == tuple(DEV_SHAPE.values())


def test_the_runtime_node_config_has_the_same_defaults() -> None:
    """NodeConfig (what tests and benchmarks build by hand) agrees with the file's defaults."""
    built = Config.defaults("node").node_config(Path("d"))
    plain = NodeConfig(Path("d"))
    assert built == plain
    assert built.sequencer == SequencerConfig()
    devnet = Config.defaults("devnet").node_config(Path("d"))
    assert (devnet.prove, devnet.settlement) == (True, "embedded")


def test_the_bridge_and_the_config_share_their_defaults() -> None:
    """The bridge's own defaults are the config's (one constant each, in the bridge)."""
    import inspect

    from bitcoinzk.bridge.deposit import DepositReveal
    from bitcoinzk.bridge.fees import FeePolicy
    from bitcoinzk.bridge.watcher import DepositWatcher

    bridge = Config.defaults("devnet").bridge
    assert FeePolicy().fee_rate == bridge.payout_fee_rate
    margin = inspect.signature(DepositWatcher).parameters["sweep_margin"].default
    assert margin == bridge.sweep_margin
    # no default of its own: a watcher is told how many confirmations it waits for
    confirmations = inspect.signature(DepositWatcher).parameters["confirmations"]
    assert confirmations.default is inspect.Parameter.empty
    timelock = {f.name: f.default for f in fields(DepositReveal)}["timelock"]
    assert timelock == bridge.refund_timelock


def test_devnet_toml_lists_every_key_with_its_default() -> None:
    raw = tomllib.loads((ROOT / "devnet.toml").read_text())
    listed = {f"{s}.{k}" for s, keys in raw.items() for k in keys}
    assert listed == set(_keys(Config())), "devnet.toml must list every key"
    assert _keys(Config.load(ROOT / "devnet.toml")) == _keys(Config.defaults("devnet"))


def test_docs_config_md_documents_every_key_with_its_default() -> None:
    rows = re.findall(
        r"^\| `([a-z_]+\.[a-z_]+)` \| ([^|]+) \|", (ROOT / "docs/config.md").read_text(), re.M
    )
    documented = {key: default.strip() for key, default in rows}
    defaults = _keys(Config.defaults("node"))
    assert set(documented) == set(defaults)
    for key, value in defaults.items():
        shown = documented[key].split(" (")[0].strip("`")
        expected = _shown(value)
        assert shown == expected, f"docs/config.md says {key} = {shown}, the code {expected}"


def _shown(value: object) -> str:
    """A default as docs/config.md writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return '""' if value == "" else str(value)


# --- file + flag precedence


def test_flags_override_the_file_which_overrides_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text("[node]\nport = 9000\nmin_fee = 5\n[prover]\nenabled = true\n")
    cfg = Config.load(path, "node", {"node.port": ("--port", 9100)})
    assert cfg.node.port == 9100  # flag over file
    assert cfg.node.min_fee == 5 and cfg.prover.enabled  # file over default
    assert cfg.node.block_time == 1.0 and cfg.node.data_dir == "data/node"  # defaults
    assert Config.load(path, "devnet").node.data_dir == "data/devnet"  # the command's default


def test_production_overrides_the_file_and_shape_flags_override_production(
    tmp_path: Path,
) -> None:
    path = tmp_path / "node.toml"
    path.write_text("[chain]\ntree_depth = 6\nchain_id = 7\n")
    cfg = Config.load(path, "node", production=True)
    chain = cfg.chain
    assert (chain.tree_depth, chain.block_slots, chain.block_records) == tuple(
        PRODUCTION_SHAPE.values()
    )
    assert chain.chain_id == 7
    flagged = Config.load(path, "node", {"chain.block_slots": ("--block-slots", 8)}, True)
    assert (flagged.chain.tree_depth, flagged.chain.block_slots) == (24, 8)


def test_a_genesis_file_gives_the_chain_and_a_disagreeing_key_is_refused(tmp_path: Path) -> None:
    params = Config.defaults("node").chain.params()
    path = tmp_path / "genesis.json"
    import json

    path.write_text(json.dumps(dev_genesis(params).to_json()))
    cfg = Config.load(None, "node", {"chain.genesis": ("--genesis", str(path))})
    assert cfg.genesis_file() == dev_genesis(params)
    clash = Config.load(
        None, "node", {"chain.genesis": ("--genesis", str(path)), "chain.tree_depth": ("-", 6)}
    )
    with pytest.raises(ConfigError, match=r"chain\.tree_depth is 6 but the genesis .* says 9"):
        clash.genesis_file()


# --- every bad value a clear error


BAD_VALUES: list[tuple[str, Any, str]] = [
    ("chain.chain_id", -1, "must be a u32"),
    ("chain.chain_id", 2**32, "must be a u32"),
    ("chain.tree_depth", 10, "must be a multiple of 3 in 3..24"),
    ("chain.tree_depth", 27, "must be a multiple of 3 in 3..24"),
    ("chain.block_slots", 0, "must be at least 1"),
    ("chain.block_records", 0, "must be at least 1"),
    ("chain.fee_account", 512, "must be an account index in 0..511"),
    ("chain.tree_depth", "deep", "must be int (a whole number), not 'deep'"),
    ("node.port", 70000, "must be a TCP port"),
    ("node.block_time", 0, "must be more than 0 seconds"),
    ("node.min_fee", -1, "must be 0 sats or more"),
    ("node.max_block_txs", -1, "must be 0 (the block's slots) or more"),
    ("node.max_mempool", 0, "must be at least 1"),
    ("node.verify_workers", -1, "must be 0 (one per core) or more"),
    ("node.http_header_timeout", 0, "must be more than 0 seconds"),
    ("node.http_body_timeout", -1.5, "must be more than 0 seconds"),
    ("node.data_dir", 3, "must be str"),
    ("prover.enabled", "yes", "must be bool (true or false)"),
    ("prover.enabled", 1, "must be bool (true or false)"),
    ("prover.parallel", 0, "must be at least 1"),
    ("prover.max_backlog", -1, "must be 0 (no bound) or more"),
    ("prover.backend", "gpu", "must be one of auto, native, groth16py"),
    ("prover.fleet", "k8s", "must be one of local, ray"),
    ("prover.witness", "js", "must be one of auto, node, wasmi"),
    ("prover.ray_workers", -1, "must be >= 0"),
    ("prover.ray_max_restarts", -2, "must be >= -1"),
    ("settlement.rpc", "localhost:8545", "an http:// or https:// URL"),
    ("settlement.evm_key", "0x1234", "must be a private key of 64 hex digits"),
    ("settlement.evm_key", "zz" * 32, "must be a private key of 64 hex digits"),
    ("settlement.confirmations", 0, "must be at least 1"),
    ("settlement.commit_max", 17, "must be 1..16"),
    ("settlement.commit_max", 0, "must be 1..16"),
    ("bitcoin.rpc", "127.0.0.1:18443", "http://user:password@host:port/"),
    ("bitcoin.rpc_port", -1, "must be a TCP port"),
    ("bitcoin.block_time", 0.0, "must be more than 0 seconds"),
    ("bridge.signers", 0, "must be at least 1"),
    ("bridge.threshold", 4, "must be 1..bridge.signers (3)"),
    ("bridge.deposit_confirmations", 0, "must be >= 1"),
    ("bridge.sweep_margin", 144, "must be in 1..bridge.refund_timelock - 1"),
    ("bridge.sweep_margin", 0, "must be in 1..bridge.refund_timelock - 1"),
    ("bridge.payout_fee_rate", 0, "must be in (0, 10000] sat/vB"),
]


@pytest.mark.parametrize(("key", "value", "problem"), BAD_VALUES)
def test_every_bad_value_is_refused_naming_its_key(key: str, value: Any, problem: str) -> None:
    section, name = key.split(".")
    with pytest.raises(ConfigError) as raised:
        Config.from_dict({section: {name: value}})
    assert raised.value.key == key
    assert str(raised.value).startswith(key) and problem in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_bad_flag_is_named_by_its_flag_and_key() -> None:
    with pytest.raises(ConfigError, match=r"^--prove-parallel \(prover.parallel\) must be at"):
        Config.load(None, "node", {"prover.parallel": ("--prove-parallel", 0)})
    with pytest.raises(ConfigError, match=r"^--port \(node.port\) must be int"):
        Config.load(None, "node", {"node.port": ("--port", "80")})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[chain]\ndepth = 4\n", "chain.depth is not a setting: did you mean chain.tree_depth?"),
        ("[chian]\n", "[chian] is not a section: did you mean chain?"),
        ("chain = 3\n", "[chain] must be a table"),
        ("[chain\n", "is not TOML"),
    ],
)
def test_unknown_keys_and_bad_files_name_the_file_and_the_fix(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        Config.load(path, "node")
    assert str(raised.value).startswith(str(path)) and message in str(raised.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1]", "must be a JSON object"),
        ("{", "is not JSON"),
        ('{"chain_id": 1}', "lacks tree_depth"),
        ("EXTRA", "has unknown extra"),
        ("DEPTH", "tree_depth must be an integer"),
        ("ALLOC", "allocations must be a list"),
        ("BALANCE", "is not a valid genesis: genesis balance 0 out of range"),
    ],
)
def test_a_bad_genesis_file_is_refused_naming_the_field(
    tmp_path: Path, content: str, message: str
) -> None:
    import json

    good = dev_genesis(Config.defaults("node").chain.params()).to_json()
    edits: dict[str, dict[str, Any]] = {
        "EXTRA": {**good, "extra": 1},
        "DEPTH": {**good, "tree_depth": "9"},
        "ALLOC": {**good, "allocations": {"a": 1}},
        "BALANCE": {**good, "allocations": [[good["operator"], 0]]},
    }
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(edits[content]) if content in edits else content)
    with pytest.raises(ConfigError) as raised:
        load_genesis(path)
    assert str(raised.value).startswith(f"genesis {path}") and message in str(raised.value)
    with pytest.raises(ConfigError, match="write one with `bzk genesis FILE`"):
        load_genesis(tmp_path / "none.json")


def test_fleet_settings() -> None:
    raw = {"prover": {"fleet": "ray", "ray_address": "ray://head:10001", "ray_workers": 3}}
    prover = Config.from_dict(raw).prover
    assert (prover.fleet, prover.ray_address, prover.ray_workers) == ("ray", "ray://head:10001", 3)
    assert Config.from_dict({}).prover.ray_max_restarts == -1  # Ray restarts a crashed actor
