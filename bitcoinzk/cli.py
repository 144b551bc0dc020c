"""`bzk`: the command line. Every subcommand talks to a node over JSON-RPC,
except `node` and `devnet`, which run one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import urllib.error
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer._click.core import Context as ClickContext  # typer 0.29 vendors click here
from typer.core import TyperGroup

from bitcoinzk.crypto.eddsa import PublicKey
from bitcoinzk.devnet.devnet import DEV_BALANCE, DEV_NAMES, dev_genesis, dev_key
from bitcoinzk.node.config import PRODUCTION_SHAPE, Config, ConfigError
from bitcoinzk.node.rpc.client import L2RpcError, NodeClient
from bitcoinzk.node.server import serve
from bitcoinzk.node.wallet import L2Wallet, sign_transfer, sign_withdraw
from bitcoinzk.prover.circuit import CircuitShape
from bitcoinzk.sequencer.sequencer import GenesisMismatch
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import ChainParams

DEBUG_ENV = "BZK_DEBUG"


def _typed_errors() -> tuple[type[BaseException], ...]:
    """The project's own errors: each says what went wrong and how to fix it, so the
    CLI prints it in one line. Anything else is a bug and keeps its traceback."""
    from bitcoinzk.fullnode.exit import ExitRefused
    from bitcoinzk.fullnode.follower import FollowerError
    from bitcoinzk.node.server import SettlementNeedsKey
    from bitcoinzk.prover.fleet import FleetError
    from bitcoinzk.prover.tooling import ToolUnavailable
    from bitcoinzk.settlement.evm.anvil import AnvilUnavailable
    from bitcoinzk.settlement.evm.client import EvmError
    from bitcoinzk.settlement.evm.contracts import ContractError
    from bitcoinzk.settlement.evm.exit.claim import ExitError
    from bitcoinzk.spec.errors import InvalidOperation

    return (
        EvmError,
        ContractError,
        GenesisMismatch,
        L2RpcError,
        InvalidOperation,
        FollowerError,
        ExitRefused,
        ExitError,
        FleetError,
        ToolUnavailable,
        AnvilUnavailable,
        SettlementNeedsKey,
        ConfigError,
    )


class _OneLineErrors(TyperGroup):
    """Every subcommand runs inside this group's `invoke`: a typed error becomes
    `error: <message>` and exit 1; set BZK_DEBUG=1 to see its traceback instead."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except _typed_errors() as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            _fail(str(exc) or type(exc).__name__)
        except urllib.error.URLError as exc:  # only NodeClient speaks HTTP here
            if os.environ.get(DEBUG_ENV):
                raise
            _fail(f"cannot reach the node ({exc.reason}): is `bzk node` running? (--url)")


app = typer.Typer(
    cls=_OneLineErrors,
    help=f"bitcoinzk: a Bitcoin Layer-2 ZK rollup ({DEBUG_ENV}=1: tracebacks for errors)",
    no_args_is_help=True,
)
wallet_app = typer.Typer(help="Layer-2 key files", no_args_is_help=True)
bench_app = typer.Typer(help="benchmarks (figures, never pass/fail)", no_args_is_help=True)
app.add_typer(wallet_app, name="wallet")
app.add_typer(bench_app, name="bench")
console = Console()
notice = Console(stderr=True)  # banners: stdout stays the command's output

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


def _fail(message: str) -> NoReturn:
    # one line whatever the terminal width, and the message is never read as markup
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(1)


PRODUCTION_COST = (  # measured, docs/prover.md ("B=64, E=4, D=24")
    "its first Groth16 key setup (--prove, `bzk settle deploy`) takes ~1 hour (circuit "
    "compile ~50 min, setup ~10 min) and up to ~10 GB of memory, cached by circuit hash "
    "after; a proving node then loads it in ~20 s and holds ~2.5 GB for it"
)
DepthOpt = Annotated[int | None, typer.Option(help="account tree depth (dev 9, --production 24)")]
SlotsOpt = Annotated[
    int | None, typer.Option(help="operation slots per block B (dev 2, --production 64)")
]
RecordsOpt = Annotated[
    int | None, typer.Option(help="record slots per block E (dev 1, --production 4)")
]
ProductionOpt = Annotated[
    bool,
    typer.Option(help="the production shape B=64 E=4 D=24 (its first key setup: ~1 h, ~10 GB)"),
]
ConfigOpt = Annotated[
    Path | None, typer.Option(help="TOML configuration; flags override it (docs/config.md)")
]
GenesisOpt = Annotated[
    Path | None, typer.Option(help="genesis file (`bzk genesis`; default: the dev genesis)")
]
KeyDirOpt = Annotated[Path | None, typer.Option(help="key cache")]
HostOpt = Annotated[str | None, typer.Option(help="listen address (127.0.0.1)")]
BlockTimeOpt = Annotated[float | None, typer.Option(help="seconds between blocks (1.0)")]
SequencerKeyOpt = Annotated[
    str | None, typer.Option(help="EVM private key hex (sequencer; default: a dev key)")
]
# the settlement contract a full node follows (`bzk fullnode`, `bzk exit`)
RollupOpt = Annotated[str | None, typer.Option(help="the Rollup contract's address")]
EvmDataOpt = Annotated[
    Path | None, typer.Option(help="a node's data dir holding its embedded EVM chain")
]
FromBlockOpt = Annotated[int, typer.Option(help="EVM block the rollup was deployed in")]
# a Layer-2 payment or withdrawal
SatsOpt = Annotated[int, typer.Option(help="sats")]
ScriptPubkeyOpt = Annotated[str, typer.Option(help="Bitcoin output script (hex)")]
# the benchmarks' circuit shape (not a chain's: no configuration, plain defaults)
BenchSlotsOpt = Annotated[int, typer.Option(help="operation slots B")]
BenchDepthOpt = Annotated[int, typer.Option(help="account tree depth")]


def _path(value: Path | None) -> str | None:
    """A path flag's value as its configuration key holds it (None: not given)."""
    return None if value is None else str(value)


def _given(flags: dict[str, tuple[str, Any]]) -> dict[str, tuple[str, Any]]:
    """The flags the user gave ({"section.key": ("--flag", value)}); None: not given."""
    return {key: (flag, value) for key, (flag, value) in flags.items() if value is not None}


def _shape_flags(
    genesis: Path | None, tree_depth: int | None, block_slots: int | None, records: int | None
) -> dict[str, tuple[str, Any]]:
    return {
        "chain.genesis": ("--genesis", _path(genesis)),
        "chain.tree_depth": ("--tree-depth", tree_depth),
        "chain.block_slots": ("--block-slots", block_slots),
        "chain.block_records": ("--block-records", records),
    }


def _config(
    path: Path | None,
    command: Literal["node", "devnet"],
    flags: dict[str, tuple[str, Any]],
    production: bool = False,
) -> Config:
    """The command's configuration: defaults < file < --production < flags."""
    return Config.load(path, command, _given(flags), production)


def _banner(params: ChainParams, source: str, keys: bool) -> None:
    """Name the shape on stderr before anything slow starts (stdout stays the output);
    for the production shape, what its key costs when this command needs one."""
    shape = f"B={params.block_slots} E={params.block_records} D={params.tree_depth}"
    if source == "default":
        text = f"dev shape {shape} (the default; --production for B=64 E=4 D=24)"
    else:
        text = f"shape {shape} ({source})"
    production = tuple(PRODUCTION_SHAPE.values())
    if keys and (params.tree_depth, params.block_slots, params.block_records) == production:
        text = f"production {text}: {PRODUCTION_COST}"
    notice.print(text, soft_wrap=True)


def _genesis(cfg: Config, keys: bool, production: bool = False) -> Genesis:
    """The chain's genesis, named on stderr first: `chain.genesis` when set, else the
    dev genesis of the configured shape (the dev users funded: `bzk wallet dev`)."""
    gen = cfg.genesis_file()
    if gen is not None:
        _banner(gen.params, f"from {cfg.chain.genesis}", keys)
        return gen
    params = cfg.chain.params()
    shape = {f"chain.{k}" for k in PRODUCTION_SHAPE}
    source = "--production" if production else "configured" if cfg.explicit & shape else "default"
    _banner(params, source, keys)
    return dev_genesis(params)


def _circuit(
    config: Path | None,
    genesis: Path | None,
    shape: tuple[int | None, int | None, int | None],
    production: bool,
    keys: bool,
) -> CircuitShape:
    """The circuit of the chain `bzk node` would run with the same options."""
    cfg = _config(config, "node", _shape_flags(genesis, *shape), production)
    return CircuitShape.of(_genesis(cfg, keys, production).params)


@app.command()
def node(
    config: ConfigOpt = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="where the node keeps its database (data/node)")
    ] = None,
    host: HostOpt = None,
    port: Annotated[int | None, typer.Option(help="JSON-RPC and explorer port (8545)")] = None,
    genesis: GenesisOpt = None,
    block_time: BlockTimeOpt = None,
    max_block_txs: Annotated[
        int | None, typer.Option(help="transactions per block (the block's slots)")
    ] = None,
    min_fee: Annotated[int | None, typer.Option(help="fee floor in sats (1)")] = None,
    tree_depth: DepthOpt = None,
    block_slots: SlotsOpt = None,
    block_records: RecordsOpt = None,
    production: ProductionOpt = False,
    verify_workers: Annotated[
        int | None, typer.Option(help="signature-check processes (one per core)")
    ] = None,
    prove: Annotated[
        bool | None, typer.Option("--prove/--no-prove", help="prove every block (no)")
    ] = None,
    prove_parallel: Annotated[
        int | None, typer.Option(help="blocks proven at once, one key (1)")
    ] = None,
    fleet: Annotated[
        str | None,
        typer.Option(help="'local' (prover processes here) or 'ray' (a Ray prover fleet)"),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster (host:port or ray://host:port); empty: start one here"),
    ] = None,
    ray_workers: Annotated[
        int | None, typer.Option(help="prover actors; 0: one per `bzk prover worker` slot")
    ] = None,
    settlement: Annotated[
        str | None, typer.Option(help="'embedded' (py-evm), an EVM JSON-RPC URL, or 'none'")
    ] = None,
    evm_key: SequencerKeyOpt = None,
    confirmations: Annotated[
        int | None, typer.Option(help="EVM confirmations before a batch is final (1)")
    ] = None,
    key_dir: Annotated[Path | None, typer.Option(help="proving key cache")] = None,
    http_header_timeout: Annotated[
        float | None, typer.Option(help="seconds a connection has to send a request's headers")
    ] = None,
    http_body_timeout: Annotated[
        float | None, typer.Option(help="seconds a request's body has to arrive after its headers")
    ] = None,
    max_backlog: Annotated[
        int | None,
        typer.Option(help="refuse transactions while this many blocks await proofs (0: no bound)"),
    ] = None,
    commit_max: Annotated[
        int | None,
        typer.Option(help="proven batches per commit transaction (one batched pairing check)"),
    ] = None,
) -> None:
    """Run a Layer-2 node (sequencer + JSON-RPC; optionally prover and settlement)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    flags = {
        "node.data_dir": ("--data-dir", _path(data_dir)),
        "node.host": ("--host", host),
        "node.port": ("--port", port),
        "node.block_time": ("--block-time", block_time),
        "node.max_block_txs": ("--max-block-txs", max_block_txs),
        "node.min_fee": ("--min-fee", min_fee),
        "node.verify_workers": ("--verify-workers", verify_workers),
        "node.http_header_timeout": ("--http-header-timeout", http_header_timeout),
        "node.http_body_timeout": ("--http-body-timeout", http_body_timeout),
        **_shape_flags(genesis, tree_depth, block_slots, block_records),
        "prover.enabled": ("--prove", prove),
        "prover.parallel": ("--prove-parallel", prove_parallel),
        "prover.fleet": ("--fleet", fleet),
        "prover.ray_address": ("--ray-address", ray_address),
        "prover.ray_workers": ("--ray-workers", ray_workers),
        "prover.key_dir": ("--key-dir", _path(key_dir)),
        "prover.max_backlog": ("--max-backlog", max_backlog),
        "settlement.evm_key": ("--evm-key", evm_key),
        "settlement.confirmations": ("--confirmations", confirmations),
        "settlement.commit_max": ("--commit-max", commit_max),
        **_settlement_flags(settlement),
    }
    cfg = _config(config, "node", flags, production)
    gen = _genesis(cfg, cfg.prover.enabled, production)
    asyncio.run(serve(cfg.node_config(), gen))  # its typed errors: one line (_OneLineErrors)


@app.command("genesis")
def genesis_file(
    out: Annotated[Path, typer.Argument(help="the genesis file to write (never overwritten)")],
    config: ConfigOpt = None,
    tree_depth: DepthOpt = None,
    block_slots: SlotsOpt = None,
    block_records: RecordsOpt = None,
    production: ProductionOpt = False,
    chain_id: Annotated[int | None, typer.Option(help="chain id, a u32 (1337)")] = None,
    fee_account: Annotated[int | None, typer.Option(help="operator's account index (0)")] = None,
    operator: Annotated[
        str | None, typer.Option(help="operator's public key hex (default: the dev operator)")
    ] = None,
    dev_accounts: Annotated[
        bool, typer.Option(help="fund alice, bob, carol and dave (`bzk wallet dev NAME`)")
    ] = True,
    allocate: Annotated[
        list[str] | None, typer.Option(help="PUBKEY=SATS: an account funded at genesis")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a genesis file (docs/config.md, "Genesis file"): by default the one `bzk node`
    starts from with the same flags; `bzk node --genesis` and `bzk settle deploy` read it."""
    flags = {
        **_shape_flags(None, tree_depth, block_slots, block_records),
        "chain.chain_id": ("--chain-id", chain_id),
        "chain.fee_account": ("--fee-account", fee_account),
    }
    cfg = _config(config, "node", flags, production)
    if cfg.chain.genesis:
        _fail(f"the configuration names a genesis already ({cfg.chain.genesis}): copy that file")
    if out.exists():
        _fail(f"{out} exists; refusing to overwrite a genesis (another path, or delete it)")
    try:
        op_key = (
            dev_key("operator").public_key() if operator is None else PublicKey.from_hex(operator)
        )
    except ValueError:
        _fail("--operator must be a BabyJubJub public key in hex (`bzk wallet new` prints one)")
    funded = [(dev_key(n).public_key(), DEV_BALANCE) for n in DEV_NAMES] if dev_accounts else []
    for item in allocate or []:
        pubkey, _, sats = item.partition("=")
        try:
            funded.append((PublicKey.from_hex(pubkey), int(sats)))
        except ValueError:
            _fail(f"--allocate {item!r} must be PUBKEY=SATS (a public key in hex, sats)")
    gen = Genesis(cfg.chain.params(), op_key, tuple(funded))
    try:
        root = gen.state().root
    except (ValueError, IndexError) as exc:
        _fail(f"no genesis: {exc} (--allocate, --tree-depth)")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(gen.to_json(), indent=2) + "\n")
    params = gen.params
    _out(
        {
            "genesis": str(out),
            "chain_id": params.chain_id,
            "shape": f"B={params.block_slots} E={params.block_records} D={params.tree_depth}",
            "accounts": 1 + len(funded),
            "state_root": f"0x{root:064x}",
        },
        as_json,
    )


def _settlement_flags(settlement: str | None) -> dict[str, tuple[str, Any]]:
    """--settlement: 'embedded', a URL, or 'none' as the keys settlement.enabled and .rpc."""
    if settlement is None:
        return {}
    if settlement == "none":
        return {"settlement.enabled": ("--settlement", False)}
    rpc = "" if settlement == "embedded" else settlement
    return {
        "settlement.enabled": ("--settlement", True),
        "settlement.rpc": ("--settlement", rpc),
    }


@app.command()
def fullnode(
    data_dir: Annotated[Path, typer.Option(help="where the full node keeps its database")] = Path(
        "data/fullnode"
    ),
    genesis: GenesisOpt = None,
    tree_depth: DepthOpt = None,
    block_slots: SlotsOpt = None,
    block_records: RecordsOpt = None,
    production: ProductionOpt = False,
    rpc_url: Annotated[str | None, typer.Option(help="EVM JSON-RPC URL to follow")] = None,
    rollup: RollupOpt = None,
    evm_data: EvmDataOpt = None,
    from_block: FromBlockOpt = 0,
    confirmations: Annotated[
        int, typer.Option(help="blocks (EVM, or Bitcoin for gold) before a batch is read")
    ] = 1,
    poll: Annotated[float, typer.Option(help="seconds between polls of the chain")] = 1.0,
    host: str = "127.0.0.1",
    port: int = 8546,
    layer: Annotated[
        str, typer.Option(help="silver (the Rollup contract) or gold (envelopes on Bitcoin)")
    ] = "silver",
    bitcoin_rpc: Annotated[
        str | None, typer.Option(help="gold: a bitcoind-compatible JSON-RPC URL")
    ] = None,
    bitcoin_data: Annotated[
        Path | None, typer.Option(help="gold: an embedded Bitcoin node's data dir")
    ] = None,
    verifying_key: Annotated[
        Path | None, typer.Option(help="gold: the Groth16 verifying key proofs are checked with")
    ] = None,
    publisher_key: Annotated[
        str | None, typer.Option(help="gold: the sequencer's x-only envelope key (hex)")
    ] = None,
    from_height: Annotated[
        int, typer.Option(help="gold: first Bitcoin block that may hold an envelope")
    ] = 0,
) -> None:
    """Rebuild the Layer-2 state from the settlement layer's data alone; serve it read-only."""
    from bitcoinzk.fullnode.follower import FollowerError
    from bitcoinzk.fullnode.server import FullNodeConfig
    from bitcoinzk.fullnode.server import serve as serve_fullnode

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # without --genesis: the genesis `bzk node` uses for the same shape options
    cfg = _config(
        None, "node", _shape_flags(genesis, tree_depth, block_slots, block_records), production
    )
    gen = _genesis(cfg, False, production)
    if layer not in ("silver", "gold"):
        _fail(f"--layer {layer!r}: silver or gold")
    config = FullNodeConfig(
        data_dir=data_dir,
        layer=layer,
        bitcoin_rpc=bitcoin_rpc,
        bitcoin_data=bitcoin_data,
        verifying_key=verifying_key,
        publisher_key=publisher_key,
        from_height=from_height,
        rpc_url=rpc_url,
        evm_data=evm_data,
        rollup=rollup,
        from_block=from_block,
        confirmations=confirmations,
        poll_s=poll,
        host=host,
        port=port,
    )
    try:
        asyncio.run(serve_fullnode(config, gen))
    except (FollowerError, ValueError) as exc:
        _fail(str(exc))


@app.command("exit")
def exit_(
    address: Annotated[
        str | None, typer.Option(help="the Bitcoin (segwit) address to be paid")
    ] = None,
    script_pubkey: Annotated[
        str | None, typer.Option(help="or the Bitcoin output script to be paid (hex)")
    ] = None,
    network: Annotated[str, typer.Option(help="the address's network")] = "regtest",
    wallet: WalletOpt = DEFAULT_WALLET,
    account_index: Annotated[
        int | None, typer.Option("--account", help="account index (default: the key's first)")
    ] = None,
    data_dir: Annotated[
        Path, typer.Option(help="a full node's data dir (synced here first if behind or empty)")
    ] = Path("data/fullnode"),
    genesis: GenesisOpt = None,
    tree_depth: DepthOpt = None,
    block_slots: SlotsOpt = None,
    block_records: RecordsOpt = None,
    production: ProductionOpt = False,
    rpc_url: Annotated[str | None, typer.Option(help="EVM JSON-RPC URL")] = None,
    rollup: RollupOpt = None,
    evm_data: EvmDataOpt = None,
    from_block: FromBlockOpt = 0,
    confirmations: Annotated[int, typer.Option(help="EVM blocks before a batch is read")] = 1,
    evm_key: Annotated[
        str | None, typer.Option(help="EVM private key hex paying the claim's gas")
    ] = None,
    key_dir: Annotated[Path | None, typer.Option(help="exit key cache")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Exodus: claim your whole Layer-2 balance on Bitcoin from the settlement contract,
    with a proof built from a full node's data: no sequencer needed (docs/exit.md)."""
    from bitcoinzk.bitcoin.script import script_from_address
    from bitcoinzk.fullnode.exit import exit_account, synced_store
    from bitcoinzk.fullnode.server import FullNodeConfig, open_rollup

    if (address is None) == (script_pubkey is None):
        _fail("give where to be paid: --address ADDRESS or --script-pubkey HEX")
    try:
        spk = (
            script_from_address(address, network)
            if address is not None
            else bytes.fromhex(script_pubkey or "")
        )
    except (KeyError, ValueError) as exc:  # AddressError, bad hex, unknown network
        _fail(f"not a payable Bitcoin destination: {exc} (--network main|test|signet|regtest)")
    flags = {
        "settlement.evm_key": ("--evm-key", evm_key),
        **_shape_flags(genesis, tree_depth, block_slots, block_records),
    }
    cfg = _config(None, "node", flags, production)  # a typo fails now, before any work
    key = cfg.node_config().evm_key
    owner = _load_wallet(wallet)
    gen = _genesis(cfg, False, production)
    config = FullNodeConfig(
        data_dir=data_dir,
        rpc_url=rpc_url,
        evm_data=evm_data,
        rollup=rollup,
        from_block=from_block,
        confirmations=confirmations,
    )
    try:
        contract = open_rollup(config)
    except ValueError as exc:
        _fail(str(exc))
    if key is not None:
        contract = contract.with_client(contract.client.with_key(key))
    store = synced_store(config, gen, contract)
    status: AbstractContextManager[Any] = (
        contextlib.nullcontext() if as_json else console.status("proving the exit …")
    )
    try:
        with status:
            result = exit_account(
                store, contract, gen.params.tree_depth, owner.key, spk, account_index, key_dir
            )
    finally:
        store.close()
        contract.client.close()
    _out(result.to_json(), as_json)


def _load_wallet(path: Path) -> L2Wallet:
    if not path.is_file():
        _fail(
            f"no key file at {path}: make one with `bzk wallet new` (or `bzk wallet dev alice "
            f"--wallet {path}` for a funded devnet key), or pass --wallet"
        )
    return L2Wallet.load(path)


@wallet_app.command("new")
def wallet_new(wallet: WalletOpt = DEFAULT_WALLET, as_json: JsonOpt = False) -> None:
    """Create a new key file."""
    if wallet.exists():
        _fail(f"{wallet} exists; refusing to overwrite a key")
    w = L2Wallet.create()
    w.save(wallet)
    _out({"wallet": str(wallet), "pubkey": w.pubkey.hex()}, as_json)


@wallet_app.command("dev")
def wallet_dev(
    name: Annotated[str, typer.Argument(help=f"a devnet user: {', '.join(DEV_NAMES)}")],
    wallet: Annotated[
        Path | None, typer.Option(help="also save the key to this file (never overwritten)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """A funded devnet key: the dev genesis of `bzk node` (no --genesis) credits each of
    these users, and `bzk devnet`'s scenario pays them. Public keys: local chains only."""
    if name not in DEV_NAMES:
        _fail(f"no devnet user {name!r}: one of {', '.join(DEV_NAMES)}")
    w = L2Wallet(dev_key(name))
    if wallet is not None:
        if wallet.exists():
            _fail(f"{wallet} exists; refusing to overwrite a key")
        w.save(wallet)
    _out(
        {
            "name": name,
            "seed": w.key.hex(),
            "pubkey": w.pubkey.hex(),
            "genesis_balance": DEV_BALANCE,
            "wallet": None if wallet is None else str(wallet),
        },
        as_json,
    )


@wallet_app.command("show")
def wallet_show(
    wallet: WalletOpt = DEFAULT_WALLET, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False
) -> None:
    """Show the key's public key and, if the node knows it, its account."""
    w = _load_wallet(wallet)
    account = None
    try:
        account = NodeClient(url).call("bzk_getAccount", w.pubkey.hex())
    except (OSError, L2RpcError):
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
    amount: SatsOpt,
    fee: SatsOpt = 1,
    wallet: WalletOpt = DEFAULT_WALLET,
    url: UrlOpt = DEFAULT_URL,
    wait: Annotated[bool, typer.Option(help="wait for inclusion")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Pay a public key on Layer-2."""
    client = NodeClient(url)
    try:
        tx = sign_transfer(client, _load_wallet(wallet).key, PublicKey.from_hex(to), amount, fee)
        tx_hash = client.call("bzk_sendTransaction", tx)["hash"]
        result = (
            _wait_receipt(client, tx_hash, 30) if wait else {"hash": tx_hash, "status": "pending"}
        )
    except (L2RpcError, LookupError, ValueError) as exc:
        _fail(str(exc))
    _out(result, as_json)


@app.command()
def withdraw(
    script_pubkey: ScriptPubkeyOpt,
    amount: SatsOpt,
    fee: SatsOpt = 1,
    wallet: WalletOpt = DEFAULT_WALLET,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Leave Layer-2: paid to `script_pubkey` on Bitcoin once the block is final, less the
    bridge's withdrawal fee (its share of the payout's Bitcoin fee, shown here)."""
    client = NodeClient(url)
    try:
        bridge = _bridge_fees(client)
        tx = sign_withdraw(
            client, _load_wallet(wallet).key, bytes.fromhex(script_pubkey), amount, fee
        )
        tx_hash = client.call("bzk_sendTransaction", tx)["hash"]
        result = _wait_receipt(client, tx_hash, 30)
    except (L2RpcError, LookupError, ValueError) as exc:
        _fail(str(exc))
    if bridge is not None:
        result = {
            **result,
            "bridge_withdrawal_fee": bridge["withdrawal_fee"],
            "paid_on_bitcoin": amount - int(bridge["withdrawal_fee"]),
        }
    _out(result, as_json)


@app.command("force-withdraw")
def force_withdraw(
    script_pubkey: ScriptPubkeyOpt,
    amount: SatsOpt,
    fee: Annotated[int, typer.Option(help="sats, m*10^e with m < 8, e < 4")] = 0,
    account: Annotated[
        int | None, typer.Option(help="your account index (default: asked of --url)")
    ] = None,
    nonce: Annotated[int | None, typer.Option(help="your nonce (default: asked of --url)")] = None,
    wallet: WalletOpt = DEFAULT_WALLET,
    url: UrlOpt = DEFAULT_URL,
    data_dir: Annotated[
        Path, typer.Option(help="a node data directory: its settlement.json (and embedded EVM)")
    ] = Path("data/node"),
    rpc: Annotated[str | None, typer.Option("--rpc", help="EVM JSON-RPC URL")] = None,
    rollup_address: Annotated[
        str | None, typer.Option("--rollup", help="Rollup contract (default: settlement.json)")
    ] = None,
    evm_key: Annotated[str | None, typer.Option(help="your EVM key (hex), pays the gas")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Withdraw without the sequencer: queue your signed withdrawal on the Rollup contract.
    A batch must process it within the contract's FORCED_DEADLINE (executed, or rejected by
    a rule the proof shows), else anyone may start exodus (docs/protocol.md)."""
    from bitcoinzk.settlement.evm.client import open_client
    from bitcoinzk.settlement.evm.rollup import Deployment, Rollup
    from bitcoinzk.spec.errors import InvalidOperation
    from bitcoinzk.spec.stf import check_withdraw_fields
    from bitcoinzk.spec.types import ForcedWithdraw, Withdraw

    try:
        spk = bytes.fromhex(script_pubkey.removeprefix("0x"))
    except ValueError:
        _fail("--script-pubkey must be hex, e.g. 0014<20-byte key hash> for P2WPKH")
    key = _load_wallet(wallet).key
    draft = Withdraw(account or 0, spk, amount, fee, nonce or 0)
    try:
        check_withdraw_fields(draft)
    except InvalidOperation as exc:  # the contract would refuse it: say so before paying gas
        _fail(f"{exc}: fix --amount, --fee or --script-pubkey")
    if account is None or nonce is None:
        try:
            found = NodeClient(url).call("bzk_getAccount", key.public_key().hex())
        except (OSError, L2RpcError) as exc:
            _fail(f"cannot read your account from {url} ({exc}): pass --account and --nonce")
        if not found:
            _fail(f"{url} knows no account for this key: pass --account and --nonce")
        account = int(found["index"]) if account is None else account
        nonce = int(found["nonce"]) if nonce is None else nonce
    if rollup_address is None:
        path = data_dir / "settlement.json"
        if not path.is_file():
            _fail(f"no {path}: pass --data-dir of the node, or --rpc URL with --rollup ADDRESS")
        deployment = Deployment.load(path)
    else:
        deployment = Deployment(rollup_address, "", "", 0, 0, 0, 0, 0, 0)
    user_key = None
    if evm_key is not None:
        try:
            user_key = bytes.fromhex(evm_key.removeprefix("0x"))
        except ValueError:
            user_key = b""
        if len(user_key) != 32:
            _fail("--evm-key must be a private key of 64 hex digits (0x optional)")
    client = open_client(rpc, user_key, None if rpc else data_dir / "evm.sqlite")
    try:
        rollup = Rollup(client, deployment)
        signed = Withdraw(account, spk, amount, fee, nonce).signed(key, rollup.chain_id())
        assert signed.signature is not None
        request = ForcedWithdraw(0, account, spk, amount, fee, nonce, signed.signature)
        receipt = rollup.force_withdraw(request)
    finally:
        client.close()
    _out(
        {
            "index": receipt.index,
            "deadline": receipt.deadline,
            "tx_hash": "0x" + receipt.tx_hash.hex(),
            "gas_used": receipt.gas_used,
            "account": account,
            "nonce": nonce,
            "amount": amount,
            "fee": fee,
        },
        as_json,
    )


def _bridge_fees(client: NodeClient) -> dict[str, Any] | None:
    """The bridge's fee policy when a bridge runs beside the node (the devnet), else None."""
    try:
        fees: dict[str, Any] = client.call("bzk_getBridgeFees")
    except L2RpcError:
        return None
    return fees


@app.command()
def account(
    account_id: Annotated[str, typer.Argument(help="account index or public key hex")],
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Show an account (balance, nonce, Merkle proof)."""
    _show(url, "bzk_getAccount", account_id, "no such account", as_json)


@app.command()
def block(
    number: Annotated[str, typer.Argument(help="block number or 'latest'")] = "latest",
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Show a block."""
    _show(url, "bzk_getBlock", number, "no such block", as_json)


def _show(url: str, method: str, ident: str, missing: str, as_json: bool) -> None:
    """Look something up by number (digits) or by hex/'latest', and print it."""
    param: int | str = int(ident) if ident.isdigit() else ident
    try:
        result = NodeClient(url).call(method, param)
    except L2RpcError as exc:
        _fail(str(exc))
    if result is None:
        _fail(missing)
    _out(result, as_json)


keys_app = typer.Typer(help="proving and verifying keys", no_args_is_help=True)
settle_app = typer.Typer(help="settlement contracts", no_args_is_help=True)
prover_app = typer.Typer(help="prover machines (a Ray fleet)", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(settle_app, name="settle")
app.add_typer(prover_app, name="prover")


def _params(tree_depth: int, block_slots: int, block_records: int, chain_id: int) -> ChainParams:
    return ChainParams(
        chain_id=chain_id,
        tree_depth=tree_depth,
        block_slots=block_slots,
        block_records=block_records,
    )


@keys_app.command("import")
def keys_import(
    zkey: Annotated[Path, typer.Argument(help="snarkjs Groth16 .zkey from a ceremony")],
    config: ConfigOpt = None,
    genesis: GenesisOpt = None,
    tree_depth: DepthOpt = None,
    block_slots: SlotsOpt = None,
    block_records: RecordsOpt = None,
    production: ProductionOpt = False,
    key_dir: KeyDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a ceremony .zkey as the production key for the chain's circuit shape
    (the same configuration, genesis or shape flags as `bzk node`)."""
    from bitcoinzk.prover.keys import import_zkey

    shape = _circuit(config, genesis, (tree_depth, block_slots, block_records), production, False)
    files = import_zkey(zkey, shape, key_dir)
    _out(
        {"proving_key": str(files.proving_key), "verifying_key": str(files.verifying_key)}, as_json
    )


@keys_app.command("setup")
def keys_setup(
    config: ConfigOpt = None,
    genesis: GenesisOpt = None,
    tree_depth: DepthOpt = None,
    block_slots: SlotsOpt = None,
    block_records: RecordsOpt = None,
    production: ProductionOpt = False,
    key_dir: KeyDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make (or find) development keys: single-party setup, never for real funds."""
    from bitcoinzk.prover.keys import default_backend, ensure_keys

    shape = _circuit(config, genesis, (tree_depth, block_slots, block_records), production, True)
    if default_backend() == "native":  # the native setup draws its own progress bar
        files = ensure_keys(shape, key_dir, True, "native")
        key = files.native_zkey
    else:
        with console.status("Groth16 setup (cached by circuit hash) …"):
            files = ensure_keys(shape, key_dir, True, "groth16py")
        key = files.proving_key
    _out({"proving_key": str(key), "verifying_key": str(files.verifying_key)}, as_json)


@app.command()
def prove(
    number: Annotated[int, typer.Argument(help="block number")],
    data_dir: Annotated[Path, typer.Option(help="the node's data directory")] = Path("data/node"),
    key_dir: KeyDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Prove a pending block offline from its circuit inputs and record the proof.

    Only a pending block: once proven, its proof is what gets (or got) settled, and
    `bzk_getBatch` must keep returning the proof in the settlement transaction."""
    from bitcoinzk.prover.service import ProverService
    from bitcoinzk.sequencer.store import BatchStatus, Store

    if not (data_dir / "node.sqlite").is_file():
        _fail(f"no node data in {data_dir}")
    store = Store(data_dir / "node.sqlite")
    meta = store.get_meta("genesis")
    if meta is None:
        _fail(f"no node data in {data_dir}")
    genesis = Genesis.from_json(json.loads(meta))

    def status() -> BatchStatus | None:
        batch = store.get_batch(number)
        return None if batch is None else batch.status

    if status() is None:
        _fail(f"no block {number} in {data_dir}")
    if status() != BatchStatus.PENDING:
        _fail(f"block {number} is {status()}: only a pending block is proven here")
    inputs = store.get_batch_inputs(number)
    if inputs is None:
        _fail(f"block {number} has no stored circuit inputs (was the node run with --prove?)")
    with ProverService(genesis.params, key_dir) as service, console.status("proving …"):
        proof = service.prove_inputs_sync(inputs)
        ok = service.verify(proof.proof, proof.public_input)
    if ok:
        with store.transaction():
            # a running node may have proven it meanwhile; its proof stands
            if status() != BatchStatus.PENDING:
                _fail(f"block {number} became {status()} while proving; its proof is kept")
            store.update_batch(
                number, BatchStatus.PROVEN, proof.proof, prove_s=round(proof.prove_s, 3)
            )
    _out({**proof.to_json(), "verified": ok}, as_json)
    if not ok:
        raise typer.Exit(1)


@prover_app.command("worker")
def prover_worker(
    address: Annotated[
        str, typer.Option(help="the Ray head to join: host:port (its GCS port, 6379 by default)")
    ],
    provers: Annotated[
        int, typer.Option(help="prover actors this machine hosts (one key in memory each)")
    ] = 1,
    num_cpus: Annotated[int | None, typer.Option(help="CPUs offered to Ray (all)")] = None,
    config: ConfigOpt = None,
    genesis: GenesisOpt = None,
    tree_depth: DepthOpt = None,
    block_slots: SlotsOpt = None,
    block_records: RecordsOpt = None,
    production: ProductionOpt = False,
    key_dir: Annotated[Path | None, typer.Option(help="key cache (the node's key, copied)")] = None,
) -> None:
    """Join this machine to the node's Ray cluster as a prover worker; runs until stopped.

    The node creates the prover actors here (`prover.fleet = "ray"`); each loads this
    machine's copy of the key once. Stop with Ctrl-C or SIGTERM: the node proves the
    blocks this machine had in hand elsewhere.
    """
    import os
    import shutil

    from bitcoinzk.prover.circuit import circuit_id, default_key_dir
    from bitcoinzk.prover.fleet import PROVER_RESOURCE
    from bitcoinzk.prover.keys import find_keys

    if address.startswith("ray://"):
        _fail(
            "a worker joins the cluster as a Ray node, through the head's GCS address "
            "(host:6379); ray:// is Ray Client, for a node outside the cluster "
            "(prover.ray_address)"
        )
    if provers < 1:
        _fail("--provers must be at least 1")
    shape = _circuit(config, genesis, (tree_depth, block_slots, block_records), production, False)
    keys_at = key_dir if key_dir is not None else default_key_dir()
    if find_keys(shape, keys_at) is None:
        _fail(
            f"no key for circuit {circuit_id(shape)} under {keys_at}: copy the node's "
            f"{circuit_id(shape)}/ key directory here (or `bzk keys import` the same .zkey)"
        )
    ray_cli = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    if ray_cli is None:
        _fail("the `ray` command is not installed (pip install ray)")
    assert ray_cli is not None
    argv = [ray_cli, "start", "--address", address, "--block"]
    argv += ["--resources", json.dumps({PROVER_RESOURCE: provers})]
    if num_cpus is not None:
        argv += ["--num-cpus", str(num_cpus)]
    # The actors inherit the environment of this machine's Ray processes.
    env = {**os.environ, "BZK_KEY_DIR": str(keys_at)}
    console.print(f"joining {address} with {provers} prover slot(s), keys in {keys_at}")
    sys.stdout.flush()
    # Become `ray start --block`: a signal to this process stops the Ray node cleanly.
    os.execve(ray_cli, argv, env)


@app.command()
def verify(
    number: Annotated[int, typer.Argument(help="batch (block) number")],
    url: UrlOpt = DEFAULT_URL,
    key_dir: KeyDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch a batch's proof from a node and verify it with our own verifying key,
    recomputing the public input from the block's published data."""
    from bitcoinzk.prover.keys import find_keys
    from bitcoinzk.prover.service import verify_proof
    from bitcoinzk.spec.pubdata import BlockPubdata, public_input

    client = NodeClient(url)
    info = client.call("bzk_chainInfo")
    params = _params(
        info["tree_depth"], info["block_slots"], info["block_records"], info["chain_id"]
    )
    batch = client.call("bzk_getBatch", number)
    block = client.call("bzk_getBlock", number, False)
    if batch is None or block is None or not batch.get("proof"):
        _fail(f"batch {number} has no proof yet")
    pubdata = BlockPubdata.from_bytes(bytes.fromhex(block["pubdata"][2:]))
    pi = public_input(
        params, number, int(block["old_root"], 16), int(block["new_root"], 16), pubdata
    )
    files = find_keys(CircuitShape.of(params), key_dir)
    if files is None:
        _fail("no verifying key for this circuit here (bzk keys setup / import)")
    assert files is not None
    ok = verify_proof(files.load_verifying_key(), bytes.fromhex(batch["proof"][2:]), pi)
    _out({"batch": number, "public_input": hex(pi), "valid": ok}, as_json)
    if not ok:
        raise typer.Exit(1)


@settle_app.command("deploy")
def settle_deploy(
    config: ConfigOpt = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="the node's data directory (data/node)")
    ] = None,
    rpc: Annotated[
        str | None, typer.Option("--rpc", help="EVM JSON-RPC URL (default embedded)")
    ] = None,
    evm_key: Annotated[str | None, typer.Option(help="deployer/sequencer private key hex")] = None,
    genesis: GenesisOpt = None,
    tree_depth: DepthOpt = None,
    block_slots: SlotsOpt = None,
    block_records: RecordsOpt = None,
    production: ProductionOpt = False,
    key_dir: KeyDirOpt = None,
    forced_deadline: Annotated[
        int | None,
        typer.Option(
            help="seconds a forced withdrawal may wait for a batch (settlement.forced_deadline; "
            "default a week, tests minutes)"
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Deploy the verifier and the Rollup contract; the node then settles to it.
    Give it the configuration, genesis or shape the node runs with."""
    from bitcoinzk.prover.circuit import circuit_id
    from bitcoinzk.prover.keys import ensure_keys
    from bitcoinzk.settlement.evm.client import open_client
    from bitcoinzk.settlement.evm.rollup import deploy

    flags = {
        "node.data_dir": ("--data-dir", _path(data_dir)),
        "settlement.rpc": ("--rpc", rpc),
        "settlement.evm_key": ("--evm-key", evm_key),
        "prover.key_dir": ("--key-dir", _path(key_dir)),
        "settlement.forced_deadline": ("--forced-deadline", forced_deadline),
        **_shape_flags(genesis, tree_depth, block_slots, block_records),
    }
    cfg = _config(config, "node", flags, production)  # a typo fails now, not after the setup
    gen = _genesis(cfg, True, production)
    node_cfg = cfg.node_config()
    shape = CircuitShape.of(gen.params)
    files = ensure_keys(shape, node_cfg.key_dir, True)
    node_cfg.data_dir.mkdir(parents=True, exist_ok=True)  # the embedded chain lives in it
    rpc_url = cfg.settlement.rpc or None
    client = open_client(rpc_url, node_cfg.evm_key, node_cfg.data_dir / "evm.sqlite")
    rollup = deploy(
        client,
        files.load_verifying_key(),
        gen.params,
        gen.state().root,
        circuit=circuit_id(shape),
        forced_deadline=cfg.settlement.forced_deadline,
    )
    rollup.deployment.save(node_cfg.data_dir / "settlement.json")
    _out(rollup.deployment.to_json(), as_json)


@app.command()
def devnet(
    config: ConfigOpt = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="data directory (resumes if present; the scenario: a temporary one)"),
    ] = None,
    transfers: Annotated[int, typer.Option(help="Layer-2 transfers in the scenario")] = 6,
    keep_running: Annotated[
        bool, typer.Option(help="leave everything up instead of running the scenario")
    ] = False,
    genesis: GenesisOpt = None,
    tree_depth: DepthOpt = None,
    block_slots: SlotsOpt = None,
    block_records: RecordsOpt = None,
    host: HostOpt = None,
    port: Annotated[int | None, typer.Option(help="the node's JSON-RPC port (8545)")] = None,
    block_time: BlockTimeOpt = None,
    settlement: Annotated[
        str | None, typer.Option(help="'embedded' (py-evm) or an EVM JSON-RPC URL")
    ] = None,
    evm_key: SequencerKeyOpt = None,
) -> None:
    """Run a local devnet on embedded defaults: Bitcoin regtest, bridge, node, prover, EVM."""
    from bitcoinzk.devnet.scenario import run_devnet

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    flags = {
        **_shape_flags(genesis, tree_depth, block_slots, block_records),
        "node.host": ("--host", host),
        "node.port": ("--port", port),
        "node.block_time": ("--block-time", block_time),
        "settlement.evm_key": ("--evm-key", evm_key),
        **_settlement_flags(settlement),
    }
    cfg = _config(config, "devnet", flags)
    code = asyncio.run(run_devnet(console, cfg, data_dir, transfers, not keep_running))
    raise typer.Exit(code)


@bench_app.command("sequencer")
def bench_sequencer(
    seconds: Annotated[float, typer.Option(help="length of the measured run")] = 60.0,
    clients: Annotated[int, typer.Option(help="concurrent HTTP connections")] = 8,
    batch: Annotated[int, typer.Option(help="transactions per JSON-RPC batch request")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Load a node with signed transfers; last line is one JSON object of figures."""
    from bitcoinzk.bench.sequencer import run as run_bench

    result = run_bench(
        seconds=seconds, clients=clients, batch=batch, console=None if as_json else console
    )
    print(json.dumps(result))
    sys.stdout.flush()


@bench_app.command("prove")
def bench_prove(
    batch_size: BenchSlotsOpt = 4,
    tree_depth: BenchDepthOpt = 24,
    compare_snarkjs: bool = False,
    node_witness: Annotated[
        bool, typer.Option(help="also time node's witness (circom2 build; B <= ~48)")
    ] = True,
    parallel: Annotated[
        int, typer.Option(help="also prove this many copies at once, one key (prover.parallel)")
    ] = 1,
    backend: Annotated[
        str, typer.Option(help="native | groth16py | auto (native where built)")
    ] = "auto",
    compare: Annotated[
        bool,
        typer.Option(help="native: also prove the same witness with groth16py and snarkjs"),
    ] = False,
    witness_backend: Annotated[
        str, typer.Option(help="native: wasmtime | node | auto (wasmtime where installed)")
    ] = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Witness and proof time for one batch; last line is one JSON object."""
    from bitcoinzk.bench.prover import run as run_prove

    if backend not in ("native", "groth16py", "auto"):
        _fail("--backend must be native, groth16py or auto")
    if witness_backend not in ("wasmtime", "node", "auto"):
        _fail("--witness-backend must be wasmtime, node or auto")
    result = run_prove(
        batch_size=batch_size,
        tree_depth=tree_depth,
        compare_snarkjs=compare_snarkjs,
        use_node=node_witness,
        parallel=parallel,
        backend=None if backend == "auto" else ("native" if backend == "native" else "groth16py"),
        compare=compare,
        witness_backend=None
        if witness_backend == "auto"
        else ("wasmtime" if witness_backend == "wasmtime" else "node"),
    )
    print(json.dumps(result))


@bench_app.command("primitives")
def bench_primitives(
    g1: Annotated[int, typer.Option("--g1", help="G1 MSM points")] = 2**20,
    g2: Annotated[int, typer.Option("--g2", help="G2 MSM points")] = 2**19,
    fft_log: Annotated[int, typer.Option("--fft-log", help="FFT size 2^K")] = 21,
    threads: Annotated[int, typer.Option(help="threads for both libraries")] = 1,
    seed: Annotated[int, typer.Option(help="seeds the points and scalars")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """The prover's MSMs and FFTs against gnark-crypto's (Go, built on first use), same
    sizes, threads and run; last line is one JSON object."""
    from bitcoinzk.bench.primitives import OPERATIONS
    from bitcoinzk.bench.primitives import run as run_primitives
    from bitcoinzk.prover.native import NativeUnavailable

    try:
        result = run_primitives(g1=g1, g2=g2, fft_log=fft_log, threads=threads, seed=seed)
    except (ValueError, NativeUnavailable) as exc:
        _fail(str(exc))
    if not as_json:
        theirs = result["gnark"] or {}
        for op in OPERATIONS:
            console.print(
                f"{op:10} ours {result['ours'][f'{op}_cpu_s']:8.2f} core-s"
                f"   gnark {theirs.get(f'{op}_cpu_s', float('nan')):8.2f} core-s"
                f"   ratio {result[f'ratio_{op}']}"
            )
        if result["gnark_error"]:
            console.print(f"gnark: {escape(result['gnark_error'])}", soft_wrap=True)
    print(json.dumps(result))
    sys.stdout.flush()


@bench_app.command("fleet")
def bench_fleet(
    batch_size: BenchSlotsOpt = 2,
    tree_depth: BenchDepthOpt = 6,
    blocks: Annotated[int, typer.Option(help="blocks proven in each run")] = 8,
    workers: Annotated[int, typer.Option(help="prover actors in the fleet run")] = 2,
    rounds: Annotated[int, typer.Option(help="times each fleet proves the blocks, in turn")] = 2,
    as_json: JsonOpt = False,
) -> None:
    """The same blocks on 1 Ray prover worker vs `workers`, then with one killed mid-proof;
    last line is one JSON object."""
    from bitcoinzk.bench.fleet import run as run_fleet

    result = run_fleet(
        batch_size=batch_size, tree_depth=tree_depth, blocks=blocks, workers=workers, rounds=rounds
    )
    print(json.dumps(result))


@bench_app.command("settle")
def bench_settle(
    production_batch_size: Annotated[
        int | None,
        typer.Option(help="B of gas_per_transfer_production (default: the recommended shape, 128)"),
    ] = None,
    batches_per_commit: Annotated[
        int | None,
        typer.Option(help="k of gas_per_transfer_production (proofs per commitBatches; 16)"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Gas of verification and of committing full batches, one per transaction and k per
    commitBatches (batched verification); last line is one JSON object."""
    from bitcoinzk.bench.settlement import PRODUCTION_SHAPE, PRODUCTION_SLOTS, bench_production
    from bitcoinzk.bench.settlement import bench_settle as run_settle

    b = production_batch_size if production_batch_size is not None else PRODUCTION_SHAPE[0]
    k = batches_per_commit if batches_per_commit is not None else PRODUCTION_SHAPE[1]
    result = run_settle()
    slots = tuple(sorted({*PRODUCTION_SLOTS, b}))
    result.update(bench_production(slots=slots, production=(b, k)))
    print(json.dumps(result))


@bench_app.command("pipeline")
def bench_pipeline(
    batch_size: Annotated[int, typer.Option(help="operation slots B (dev shape: 2)")] = 2,
    block_records: Annotated[int | None, typer.Option(help="record slots E (B/16)")] = None,
    tree_depth: BenchDepthOpt = 6,
    seconds: Annotated[float, typer.Option(help="length of the sustained load")] = 120.0,
    load: Annotated[float, typer.Option(help="offered rate as a fraction of capacity")] = 0.8,
    rate: Annotated[float | None, typer.Option(help="offered tx/s (overrides --load)")] = None,
    parallel: Annotated[int, typer.Option(help="blocks proven at once (prover.parallel)")] = 1,
    max_backlog: Annotated[int, typer.Option(help="admission bound in blocks (0: none)")] = 32,
    backend: Annotated[str, typer.Option(help="prover backend: auto, native, groth16py")] = "auto",
    as_json: JsonOpt = False,
) -> None:
    """A proving, settling node under a sustained load; last line is one JSON object."""
    from bitcoinzk.bench.pipeline import run as run_pipeline

    result = run_pipeline(
        batch_size=batch_size,
        block_records=block_records,
        tree_depth=tree_depth,
        seconds=seconds,
        load=load,
        rate=rate,
        parallel=parallel,
        max_backlog=max_backlog,
        console=None if as_json else console,
        backend=backend,
    )
    print(json.dumps(result))
    sys.stdout.flush()


@bench_app.command("bridge")
def bench_bridge(as_json: JsonOpt = False) -> None:
    """Bitcoin sizes of deposits and batched payouts; last line is one JSON object."""
    from bitcoinzk.bench.bridge import run as run_bridge

    print(json.dumps(run_bridge()))


@bench_app.command("chaos")
def bench_chaos(
    kills: Annotated[
        int, typer.Option(help="kill -9s of the devnet (at least 10 for the goal)")
    ] = 10,
    seed: Annotated[int, typer.Option(help="seeds the users, the workload and the kill plan")] = 1,
    data_dir: Annotated[
        Path | None, typer.Option(help="keep the devnet's data and log here (default: a temp dir)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """kill -9 a devnet in every phase, restart, audit the money; last line is one JSON object."""
    from bitcoinzk.bench.chaos import run as run_chaos

    result = run_chaos(
        kills=kills, seed=seed, data_dir=data_dir, console=None if as_json else console
    )
    print(json.dumps(result))
    sys.stdout.flush()


@bench_app.command("bitvm")
def bench_bitvm(as_json: JsonOpt = False) -> None:
    """BitVM gate-check trees, Gold DA vbytes and the chunked Groth16 verifier on a real
    batch proof (every chunk spent in a regtest block); last line is one JSON object."""
    from bitcoinzk.bench.bitvm import run_bench

    print(json.dumps(run_bench()))


@bench_app.command("fullnode")
def bench_fullnode(
    blocks: Annotated[int, typer.Option(help="full blocks of transfers to follow")] = 64,
    block_slots: Annotated[int, typer.Option(help="slots per block")] = 64,
    tree_depth: BenchDepthOpt = 24,
    users: Annotated[int, typer.Option(help="funded accounts the transfers move between")] = 1000,
    as_json: JsonOpt = False,
) -> None:
    """A full node syncing from DA: transfers replayed per second, peak memory; last line JSON."""
    from bitcoinzk.bench.fullnode import run as run_fullnode

    print(json.dumps(run_fullnode(blocks, block_slots, tree_depth, users)))


@bench_app.command("exit")
def bench_exit(
    accounts: Annotated[int, typer.Option(help="accounts in the exit proof's state")] = 1_000_000,
    tree_depth: BenchDepthOpt = 24,
    fullnode_blocks: Annotated[
        int, typer.Option(help="full 64-slot blocks of transfers the full node syncs")
    ] = 64,
    as_json: JsonOpt = False,
) -> None:
    """Exodus costs: forceWithdraw and exit gas, a user's exit proof time from a synced
    full node of `accounts` accounts, full node sync speed and memory; last line JSON."""
    from bitcoinzk.bench.exit import run as run_exit

    print(json.dumps(run_exit(accounts, tree_depth, fullnode_blocks)))
    sys.stdout.flush()


if __name__ == "__main__":
    app()
