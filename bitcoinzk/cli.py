"""`bzk`: the command line. Every subcommand talks to a node over JSON-RPC,
except `node` and `devnet`, which run one."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from bitcoinzk.crypto.eddsa import PublicKey
from bitcoinzk.l2.genesis import Genesis
from bitcoinzk.l2.params import ChainParams
from bitcoinzk.l2.sequencer import SequencerConfig
from bitcoinzk.node.client import NodeClient, NodeError
from bitcoinzk.node.devnet import dev_genesis
from bitcoinzk.node.server import NodeConfig, serve
from bitcoinzk.node.wallet import Wallet, sign_transfer, sign_withdraw

app = typer.Typer(help="bitcoinzk: a Bitcoin Layer-2 ZK rollup", no_args_is_help=True)
wallet_app = typer.Typer(help="Layer-2 key files", no_args_is_help=True)
bench_app = typer.Typer(help="benchmarks (figures, never pass/fail)", no_args_is_help=True)
app.add_typer(wallet_app, name="wallet")
app.add_typer(bench_app, name="bench")
console = Console()

DEFAULT_URL = "http://127.0.0.1:8545/"
DEFAULT_WALLET = Path.home() / ".bitcoinzk" / "wallet.json"
UrlOpt = Annotated[str, typer.Option("--url", help="node JSON-RPC URL")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
WalletOpt = Annotated[Path, typer.Option("--wallet", help="key file")]


def _out(data: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data))
    else:
        console.print_json(data=data)


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


@app.command()
def node(
    data_dir: Annotated[Path, typer.Option(help="where the node keeps its database")] = Path(
        "data/node"
    ),
    host: str = "127.0.0.1",
    port: int = 8545,
    genesis: Annotated[Path | None, typer.Option(help="genesis JSON (default: devnet)")] = None,
    block_time: float = 1.0,
    max_block_txs: int | None = None,
    min_fee: int = 1,
    tree_depth: int = 24,
    block_slots: int = 64,
    block_records: int = 16,
    verify_workers: int | None = None,
) -> None:
    """Run a Layer-2 node (sequencer + JSON-RPC)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if genesis is not None:
        gen = Genesis.from_json(json.loads(genesis.read_text()))
    else:
        params = ChainParams(
            tree_depth=tree_depth, block_slots=block_slots, block_records=block_records
        )
        gen = dev_genesis(params)
    config = NodeConfig(
        data_dir=data_dir,
        host=host,
        port=port,
        sequencer=SequencerConfig(
            block_time=block_time, max_block_txs=max_block_txs, min_fee=min_fee
        ),
        verify_workers=verify_workers,
    )
    asyncio.run(serve(config, gen))


@wallet_app.command("new")
def wallet_new(wallet: WalletOpt = DEFAULT_WALLET, as_json: JsonOpt = False) -> None:
    """Create a new key file."""
    if wallet.exists():
        _fail(f"{wallet} exists; refusing to overwrite a key")
    w = Wallet.create()
    w.save(wallet)
    _out({"wallet": str(wallet), "pubkey": w.pubkey.hex()}, as_json)


@wallet_app.command("show")
def wallet_show(
    wallet: WalletOpt = DEFAULT_WALLET, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False
) -> None:
    """Show the key's public key and, if the node knows it, its account."""
    w = Wallet.load(wallet)
    account = None
    try:
        account = NodeClient(url).call("bzk_getAccount", w.pubkey.hex())
    except (OSError, NodeError):
        pass
    if account:
        account = {k: account[k] for k in ("index", "balance", "nonce", "pending_nonce")}
    _out({"pubkey": w.pubkey.hex(), "account": account}, as_json)


def _wait_receipt(client: NodeClient, tx_hash: str, timeout: float) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        receipt = client.call("bzk_getTransactionReceipt", tx_hash)
        if receipt and receipt["status"] != "pending":
            return receipt
        time.sleep(0.1)
    return client.call("bzk_getTransactionReceipt", tx_hash)


@app.command()
def send(
    to: Annotated[str, typer.Option(help="recipient public key (hex)")],
    amount: Annotated[int, typer.Option(help="sats")],
    fee: Annotated[int, typer.Option(help="sats")] = 1,
    wallet: WalletOpt = DEFAULT_WALLET,
    url: UrlOpt = DEFAULT_URL,
    wait: Annotated[bool, typer.Option(help="wait for inclusion")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Pay a public key on Layer-2."""
    client = NodeClient(url)
    try:
        tx = sign_transfer(client, Wallet.load(wallet).key, PublicKey.from_hex(to), amount, fee)
        tx_hash = client.call("bzk_sendTransaction", tx)["hash"]
        result = (
            _wait_receipt(client, tx_hash, 30) if wait else {"hash": tx_hash, "status": "pending"}
        )
    except (NodeError, LookupError, ValueError) as exc:
        _fail(str(exc))
    _out(result, as_json)


@app.command()
def withdraw(
    script_pubkey: Annotated[str, typer.Option(help="Bitcoin output script (hex)")],
    amount: Annotated[int, typer.Option(help="sats")],
    fee: Annotated[int, typer.Option(help="sats")] = 1,
    wallet: WalletOpt = DEFAULT_WALLET,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Leave Layer-2: paid to `script_pubkey` on Bitcoin once the block is final."""
    client = NodeClient(url)
    try:
        tx = sign_withdraw(
            client, Wallet.load(wallet).key, bytes.fromhex(script_pubkey), amount, fee
        )
        tx_hash = client.call("bzk_sendTransaction", tx)["hash"]
        result = _wait_receipt(client, tx_hash, 30)
    except (NodeError, LookupError, ValueError) as exc:
        _fail(str(exc))
    _out(result, as_json)


@app.command()
def account(
    account_id: Annotated[str, typer.Argument(help="account index or public key hex")],
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Show an account (balance, nonce, Merkle proof)."""
    ident: int | str = int(account_id) if account_id.isdigit() else account_id
    try:
        result = NodeClient(url).call("bzk_getAccount", ident)
    except NodeError as exc:
        _fail(str(exc))
    if result is None:
        _fail("no such account")
    _out(result, as_json)


@app.command()
def block(
    number: Annotated[str, typer.Argument(help="block number or 'latest'")] = "latest",
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Show a block."""
    ident: int | str = int(number) if number.isdigit() else number
    try:
        result = NodeClient(url).call("bzk_getBlock", ident)
    except NodeError as exc:
        _fail(str(exc))
    if result is None:
        _fail("no such block")
    _out(result, as_json)


@app.command()
def devnet(
    data_dir: Annotated[
        Path | None, typer.Option(help="keep data here (default: temporary)")
    ] = None,
    transfers: Annotated[int, typer.Option(help="transfers in the scenario")] = 40,
    scenario: Annotated[bool, typer.Option(help="run the scripted scenario and exit")] = True,
    port: int = 0,
) -> None:
    """Run a local devnet: a node on embedded defaults and a scripted scenario."""
    from bitcoinzk.node.scenario import run_devnet

    code = asyncio.run(run_devnet(console, data_dir, transfers, scenario, port))
    raise typer.Exit(code)


@bench_app.command("sequencer")
def bench_sequencer(
    seconds: Annotated[float, typer.Option(help="length of the measured run")] = 60.0,
    clients: Annotated[int, typer.Option(help="concurrent HTTP connections")] = 8,
    batch: Annotated[int, typer.Option(help="transactions per JSON-RPC batch request")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Load a node with signed transfers; last line is one JSON object of figures."""
    from bitcoinzk.node.loadgen import run as run_bench

    result = run_bench(
        seconds=seconds, clients=clients, batch=batch, console=None if as_json else console
    )
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    app()
