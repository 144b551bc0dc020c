"""A new user's path through `bzk` (issue 13): every error one line with its fix, the
shape a node starts named before it starts, deployments for that shape, funded dev keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from typer.testing import CliRunner, Result

from bitcoinzk import cli
from bitcoinzk.cli import app
from bitcoinzk.devnet.devnet import DEV_BALANCE, dev_genesis, dev_key
from bitcoinzk.node.config import load_genesis
from bitcoinzk.node.wallet import L2Wallet
from bitcoinzk.procutil import free_port
from bitcoinzk.settlement.evm.rollup import Deployment
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import ChainParams
from tests.settlement.evm.conftest import running_anvil

runner = CliRunner()
# the test circuit's shape: its key is cached for the settlement tests
TEST_SHAPE = ["--tree-depth", "6", "--block-slots", "2", "--block-records", "1"]


def _one_line_error(output: str) -> str:
    """The command's only output line, which must be an error, not a traceback."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output, output
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, output
    return errors[0]


def _bzk(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bitcoinzk.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "60"},  # a narrow terminal must not wrap the line
    )


def _start_node(args: list[str], cwd: Path) -> tuple[str, str]:
    """Start `bzk node`, wait until it listens, stop it; (its stderr banner, its first
    stdout line)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bitcoinzk.cli", "node", "--port", str(free_port()), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "60"},
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        listening = proc.stdout.readline()
        banner = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    return banner, listening


@pytest.fixture(scope="module")
def anvil_url() -> Iterator[str]:
    with running_anvil() as node:
        yield node.url


def _json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return cast(dict[str, Any], json.loads(result.output.strip().splitlines()[-1]))


# --- every error one line with its fix


def test_settlement_without_prove_on_a_fresh_data_dir_is_one_line(tmp_path: Path) -> None:
    result = _bzk("node", "--settlement", "embedded", "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 1
    line = _one_line_error(result.stdout + result.stderr)
    assert "--prove" in line and "bzk settle deploy" in line


def test_an_unreachable_node_is_one_line_naming_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    result = runner.invoke(app, ["block", "latest", "--url", url])
    assert result.exit_code == 1
    assert "--url" in _one_line_error(result.output)


def test_a_missing_key_file_is_one_line_naming_its_fix(tmp_path: Path) -> None:
    missing = tmp_path / "none.json"
    result = runner.invoke(app, ["send", "--to", "00", "--amount", "5", "--wallet", str(missing)])
    assert result.exit_code == 1
    assert "bzk wallet new" in _one_line_error(result.output)


def test_a_malformed_evm_key_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["settle", "deploy", "--evm-key", "0xnothex", "--production"])
    assert result.exit_code == 1
    assert "--evm-key (settlement.evm_key) must be" in _one_line_error(result.output)


def test_a_bad_devnet_config_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "devnet.toml"
    path.write_text("[chain]\nbogus = 1\n")
    result = runner.invoke(app, ["devnet", "--config", str(path)])
    assert result.exit_code == 1
    line = _one_line_error(result.output)
    assert "chain.bogus" in line and "docs/config.md" in line
    missing = runner.invoke(app, ["devnet", "--config", str(tmp_path / "none.toml")])
    assert missing.exit_code == 1 and "none.toml" in _one_line_error(missing.output)


def test_bzk_debug_keeps_the_traceback(tmp_path: Path) -> None:
    """A developer can still see where a typed error came from."""
    import urllib.error

    url = f"http://127.0.0.1:{free_port()}/"
    result = runner.invoke(app, ["block", "latest", "--url", url], env={"BZK_DEBUG": "1"})
    assert isinstance(result.exception, urllib.error.URLError)


def test_an_unfunded_evm_key_is_one_line_naming_evm_key(tmp_path: Path, anvil_url: str) -> None:
    """anvil funds its own accounts, never this key: the plain-anvil case of a new user."""
    unfunded = "11" * 32
    result = _bzk(
        "settle",
        "deploy",
        "--rpc",
        anvil_url,
        "--evm-key",
        unfunded,
        "--data-dir",
        str(tmp_path / "node"),
        *TEST_SHAPE,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    line = _one_line_error(result.stdout + result.stderr)
    assert "--evm-key" in line and "no funds" in line
    assert not (tmp_path / "node" / "settlement.json").exists()
    # the fix it names works: anvil's own first account (docs/settlement.md)
    funded = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    deployed = _bzk(
        "settle",
        "deploy",
        "--rpc",
        anvil_url,
        "--evm-key",
        funded,
        "--data-dir",
        str(tmp_path / "node"),
        *TEST_SHAPE,
        cwd=tmp_path,
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert Deployment.load(tmp_path / "node" / "settlement.json").block_slots == 2


# --- the shape a node starts, named first


def test_node_without_a_shape_starts_the_dev_shape_and_says_so(tmp_path: Path) -> None:
    banner, listening = _start_node([], tmp_path)
    assert "dev shape B=2 E=1 D=9" in banner and "--production" in banner
    assert "listening" in listening  # stdout's first line is unchanged (tests read it)


def test_production_shape_only_when_asked_with_its_cost_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    banner, listening = _start_node(["--production"], tmp_path)
    assert "shape B=64 E=4 D=24 (--production)" in banner and "listening" in listening
    # with a key to make (--prove, settle deploy) the cost comes first; checked here
    # without running the hour-long setup it announces
    cfg = cli._config(None, "node", {}, production=True)
    genesis = cli._genesis(cfg, keys=True, production=True)
    assert genesis.params.block_slots == 64
    err = capsys.readouterr().err
    assert err.startswith("production shape B=64 E=4 D=24") and "10 GB" in err


def test_key_commands_default_to_the_node_shape() -> None:
    """`bzk keys setup`, `keys import` and `prover worker` pick the circuit as `bzk node`
    does: the dev shape by default, the production one only when asked."""
    from bitcoinzk.prover.circuit import CircuitShape

    dev = ChainParams(tree_depth=9, block_slots=2, block_records=1)
    assert cli._circuit(None, None, (None, None, None), False, False) == CircuitShape.of(dev)
    production = cli._circuit(None, None, (None, None, None), True, False)
    assert (production.depth, production.slots, production.records) == (24, 64, 4)
    assert cli._circuit(None, None, (6, None, None), False, False).depth == 6


# --- a deployment for the shape the node runs


def test_settle_deploy_takes_the_node_shape(tmp_path: Path) -> None:
    data = tmp_path / "node"
    result = _bzk("settle", "deploy", "--data-dir", str(data), *TEST_SHAPE, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    deployment = Deployment.load(data / "settlement.json")
    assert (deployment.block_slots, deployment.block_records) == (2, 1)
    root = dev_genesis(ChainParams(tree_depth=6, block_slots=2, block_records=1)).state().root
    assert deployment.genesis_root == root
    # the node of that shape settles to it: it starts (its start-up checks every field)
    banner, listening = _start_node(
        ["--data-dir", str(data), "--settlement", "embedded", *TEST_SHAPE], tmp_path
    )
    assert "listening" in listening, banner


# --- a genesis file, written once and read by every command


def test_genesis_round_trip_through_settle_deploy_and_node(tmp_path: Path) -> None:
    carol = dev_key("carol").public_key()
    path = tmp_path / "genesis.json"
    written = _bzk(
        "genesis",
        str(path),
        *TEST_SHAPE,
        "--chain-id",
        "7",
        "--no-dev-accounts",
        "--allocate",
        f"{carol.hex()}=5000",
        "--json",
        cwd=tmp_path,
    )
    assert written.returncode == 0, written.stderr
    gen = load_genesis(path)
    params = ChainParams(chain_id=7, tree_depth=6, block_slots=2, block_records=1)
    assert gen == Genesis(params, dev_key("operator").public_key(), ((carol, 5000),))
    assert json.loads(written.stdout)["state_root"] == f"0x{gen.state().root:064x}"

    data = tmp_path / "node"
    deployed = _bzk(
        "settle", "deploy", "--genesis", str(path), "--data-dir", str(data), cwd=tmp_path
    )
    assert deployed.returncode == 0, deployed.stderr
    deployment = Deployment.load(data / "settlement.json")
    assert (deployment.genesis_root, deployment.chain_id) == (gen.state().root, 7)
    # the node starts from the same file on that deployment (its start checks both agree)
    banner, listening = _start_node(
        ["--genesis", str(path), "--data-dir", str(data), "--settlement", "embedded"], tmp_path
    )
    assert f"from {path}" in banner and "listening" in listening, banner

    # by default the file is the genesis `bzk node` starts from; never overwritten
    dev = tmp_path / "dev.json"
    assert _bzk("genesis", str(dev), cwd=tmp_path).returncode == 0
    assert load_genesis(dev) == dev_genesis(
        ChainParams(tree_depth=9, block_slots=2, block_records=1)
    )
    again = _bzk("genesis", str(dev), cwd=tmp_path)
    assert again.returncode == 1 and "refusing to overwrite" in _one_line_error(again.stdout)
    bad = _bzk("genesis", str(tmp_path / "x.json"), "--allocate", "nothex=5", cwd=tmp_path)
    assert bad.returncode == 1 and "PUBKEY=SATS" in _one_line_error(bad.stdout)


def test_a_bad_genesis_or_config_for_node_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "g.json").write_text('{"chain_id": 1}')
    result = _bzk("node", "--genesis", "g.json", cwd=tmp_path)
    assert result.returncode == 1
    assert "lacks tree_depth" in _one_line_error(result.stdout + result.stderr)
    (tmp_path / "node.toml").write_text("[prover]\nparalel = 2\n")
    result = _bzk("node", "--config", "node.toml", cwd=tmp_path)
    line = _one_line_error(result.stdout + result.stderr)
    assert "prover.paralel" in line and "did you mean prover.parallel?" in line
    result = _bzk("node", "--tree-depth", "10", cwd=tmp_path)
    line = _one_line_error(result.stdout + result.stderr)
    assert line.startswith("error: --tree-depth (chain.tree_depth) must be a multiple of 3")


def test_settle_deploy_and_node_read_one_config_file(tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text(
        '[chain]\ntree_depth = 6\nchain_id = 9\n[node]\ndata_dir = "d"\n'
        "[settlement]\nenabled = true\n"
    )
    deployed = _bzk("settle", "deploy", "--config", "node.toml", cwd=tmp_path)
    assert deployed.returncode == 0, deployed.stderr
    deployment = Deployment.load(tmp_path / "d" / "settlement.json")
    params = ChainParams(chain_id=9, tree_depth=6, block_slots=2, block_records=1)
    assert deployment.genesis_root == dev_genesis(params).state().root
    assert deployment.chain_id == 9
    banner, listening = _start_node(["--config", "node.toml"], tmp_path)
    assert "shape B=2 E=1 D=6 (configured)" in banner and "listening" in listening, banner


# --- funded devnet keys


def test_wallet_dev_gives_the_funded_dev_genesis_keys(tmp_path: Path) -> None:
    shown = _json(runner.invoke(app, ["wallet", "dev", "alice", "--json"]))
    assert shown["seed"] == dev_key("alice").hex()
    genesis = dev_genesis(ChainParams(tree_depth=9, block_slots=2, block_records=1))
    assert (dev_key("alice").public_key(), DEV_BALANCE) in genesis.allocations
    assert shown["pubkey"] == dev_key("alice").public_key().hex()

    path = tmp_path / "bob.json"
    _json(runner.invoke(app, ["wallet", "dev", "bob", "--wallet", str(path), "--json"]))
    assert L2Wallet.load(path).key.hex() == dev_key("bob").hex()
    again = runner.invoke(app, ["wallet", "dev", "bob", "--wallet", str(path)])
    assert again.exit_code == 1 and "refusing to overwrite" in _one_line_error(again.output)
    unknown = runner.invoke(app, ["wallet", "dev", "mallory"])
    assert unknown.exit_code == 1 and "alice" in _one_line_error(unknown.output)


# --- forced withdrawals (issue 14 §2)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--script-pubkey", "zz", "--amount", "5000"], "--script-pubkey must be hex"),
        (["--script-pubkey", "0014" + "00" * 20, "--amount", "999"], "fix --amount"),
        (["--script-pubkey", "0014" + "00" * 20, "--amount", "5000", "--fee", "9"], "fix --amount"),
        (["--script-pubkey", "", "--amount", "5000"], "fix --amount, --fee or --script-pubkey"),
    ],
)
def test_force_withdraw_bad_input_is_one_line_with_its_fix(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    key = tmp_path / "key.json"
    L2Wallet(dev_key("alice")).save(key)
    result = runner.invoke(app, ["force-withdraw", *args, "--wallet", str(key)])
    assert result.exit_code == 1
    assert needle in _one_line_error(result.output)


def test_force_withdraw_without_a_deployment_names_the_fix(tmp_path: Path) -> None:
    key = tmp_path / "key.json"
    L2Wallet(dev_key("alice")).save(key)
    args = ["--script-pubkey", "0014" + "00" * 20, "--amount", "5000", "--account", "1"]
    result = runner.invoke(
        app,
        [
            "force-withdraw",
            *args,
            "--nonce",
            "0",
            "--wallet",
            str(key),
            "--data-dir",
            str(tmp_path / "nowhere"),
        ],
    )
    assert result.exit_code == 1
    assert "--rollup" in _one_line_error(result.output)


def test_force_withdraw_queues_the_signed_request_on_the_contract(tmp_path: Path) -> None:
    from bitcoinzk.settlement.evm.client import EmbeddedClient
    from bitcoinzk.settlement.evm.rollup import Rollup

    data = tmp_path / "node"
    deploy = _bzk(
        "settle", "deploy", "--data-dir", str(data), *TEST_SHAPE, "--forced-deadline", "60",
        cwd=tmp_path,
    )  # fmt: skip
    assert deploy.returncode == 0, deploy.stderr
    key = tmp_path / "key.json"
    L2Wallet(dev_key("alice")).save(key)
    spk = "0014" + "ab" * 20
    out = _bzk(
        "force-withdraw", "--script-pubkey", spk, "--amount", "5000", "--fee", "10",
        "--account", "1", "--nonce", "0", "--wallet", str(key), "--data-dir", str(data),
        "--evm-key", "11" * 32, "--json", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    receipt = json.loads(out.stdout)
    assert (receipt["index"], receipt["account"], receipt["amount"]) == (0, 1, 5000)
    client = EmbeddedClient(data / "evm.sqlite")
    try:
        rollup = Rollup(client, Deployment.load(data / "settlement.json"))
        (request,) = rollup.forced_requests()
        assert (request.sender, request.amount, request.fee, request.nonce) == (1, 5000, 10, 0)
        assert request.script_pubkey == bytes.fromhex(spk)
        assert rollup.forced_deadline(0) == receipt["deadline"]
    finally:
        client.close()
