"""A Bitcoin Core-compatible JSON-RPC server for the embedded node (aiohttp).

Request and response shapes follow bitcoind: JSON-RPC 1.0/1.1 requests get
`{"result", "error", "id"}` with HTTP 500 on error (404 for an unknown
method), JSON-RPC 2.0 requests get `{"jsonrpc": "2.0", "result"|"error", "id"}`
with HTTP 200, batches are arrays, and errors carry Core's numeric codes
(`RPC_INVALID_ADDRESS_OR_KEY` = -5, ...).  Amounts are BTC, as in Core.
Named parameters (objects) are accepted as in Core.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import statistics
import threading
from decimal import Decimal
from typing import Any, cast

from aiohttp import web

from bitcoinzk import httprpc

from .block import Block, bits_to_target
from .mempool import MempoolRejection
from .policy import MIN_RELAY_FEE, output_type
from .regtest import RegtestNode
from .rpc_client import BitcoinRpcError
from .script import AddressError, address_from_script, script_from_address
from .tx import OutPoint, Tx

log = logging.getLogger(__name__)

RPC_MISC_ERROR = -1
RPC_TYPE_ERROR = -3
RPC_INVALID_ADDRESS_OR_KEY = -5
RPC_INVALID_PARAMETER = -8
RPC_DESERIALIZATION_ERROR = -22
# JSON-RPC's own codes, under Core's names
RPC_METHOD_NOT_FOUND = httprpc.METHOD_NOT_FOUND
RPC_INVALID_REQUEST = httprpc.INVALID_REQUEST
RPC_PARSE_ERROR = httprpc.PARSE_ERROR
RPC_INVALID_PARAMS = httprpc.INVALID_PARAMS
COIN = 100_000_000
MAX_GENERATE = 1000
"""Blocks one generatetoaddress call may mine (each call holds the node's lock)."""


# --- parameter checks: every value from a request is checked before the node sees it, so
# that bad input gets Core's error codes (-3 type, -8 parameter) and never an internal error.


def _int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BitcoinRpcError(RPC_TYPE_ERROR, f"{name}: expected an integer")
    if not lo <= value <= hi:
        raise BitcoinRpcError(RPC_INVALID_PARAMETER, f"{name} out of range ({lo}..{hi})")
    return value


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise BitcoinRpcError(RPC_TYPE_ERROR, f"{name}: expected a bool")
    return value


def _verbosity(name: str, value: Any, hi: int) -> int:
    """Core's verbose/verbosity: a bool (legacy) or 0..hi."""
    if isinstance(value, bool):
        return int(value)
    return _int(name, value, 0, hi)


def _hash(name: str, value: Any) -> str:
    """A block hash or txid: 64 hex digits, as Core's ParseHashV."""
    if not isinstance(value, str):
        raise BitcoinRpcError(RPC_TYPE_ERROR, f"{name}: expected a string")
    if len(value) != 64:
        raise BitcoinRpcError(
            RPC_INVALID_PARAMETER, f"{name} must be of length 64 (not {len(value)})"
        )
    if not (value.isascii() and all(c in "0123456789abcdefABCDEF" for c in value)):
        raise BitcoinRpcError(RPC_INVALID_PARAMETER, f"{name} must be hexadecimal string")
    return value.lower()


def _hex(name: str, value: Any) -> bytes:
    if not isinstance(value, str):
        raise BitcoinRpcError(RPC_TYPE_ERROR, f"{name}: expected a string")
    if not value.isascii() or any(c.isspace() for c in value):
        raise BitcoinRpcError(RPC_DESERIALIZATION_ERROR, f"{name} is not hex")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise BitcoinRpcError(RPC_DESERIALIZATION_ERROR, f"{name} is not hex") from None


def _str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise BitcoinRpcError(RPC_TYPE_ERROR, f"{name}: expected a string")
    return value


def btc(sats: int) -> float:
    return round(sats / COIN, 8)


def difficulty(bits: int) -> float:
    return bits_to_target(0x1D00FFFF) / bits_to_target(bits)


def script_json(spk: bytes, network: str) -> dict[str, Any]:
    out: dict[str, Any] = {"hex": spk.hex(), "type": _core_type(output_type(spk))}
    addr = address_from_script(spk, network)
    if addr:
        out["address"] = addr
    return out


def _core_type(kind: str) -> str:
    return {"witness_unknown": "witness_unknown", "anchor": "anchor"}.get(kind, kind)


def tx_json(tx: Tx, network: str) -> dict[str, Any]:
    """decoderawtransaction's shape."""
    vin: list[dict[str, Any]] = []
    for i in tx.vin:
        if tx.is_coinbase():
            d: dict[str, Any] = {"coinbase": i.script_sig.hex()}
        else:
            d = {
                "txid": i.prevout.txid,
                "vout": i.prevout.vout,
                "scriptSig": {"asm": "", "hex": i.script_sig.hex()},
            }
        if i.witness:
            d["txinwitness"] = [w.hex() for w in i.witness]
        d["sequence"] = i.sequence
        vin.append(d)
    return {
        "txid": tx.txid,
        "hash": tx.wtxid,
        "version": tx.version,
        "size": len(tx.serialize()),
        "vsize": tx.vsize,
        "weight": tx.weight,
        "locktime": tx.locktime,
        "vin": vin,
        "vout": [
            {"value": btc(o.value), "n": n, "scriptPubKey": script_json(o.script_pubkey, network)}
            for n, o in enumerate(tx.vout)
        ],
        "hex": tx.hex(),
    }


class NodeRPC:
    """One Python method per RPC, named as in Bitcoin Core."""

    def __init__(self, node: RegtestNode) -> None:
        self.node = node

    def table(self) -> dict[str, httprpc.Handler]:
        """The method table: RPC name -> method."""
        return {
            "getblockchaininfo": self.rpc_getblockchaininfo,
            "getblockcount": self.rpc_getblockcount,
            "getbestblockhash": self.rpc_getbestblockhash,
            "getblockhash": self.rpc_getblockhash,
            "getblockheader": self.rpc_getblockheader,
            "getblock": self.rpc_getblock,
            "gettxout": self.rpc_gettxout,
            "scantxoutset": self.rpc_scantxoutset,
            "getrawtransaction": self.rpc_getrawtransaction,
            "decoderawtransaction": self.rpc_decoderawtransaction,
            "sendrawtransaction": self.rpc_sendrawtransaction,
            "getrawmempool": self.rpc_getrawmempool,
            "getmempoolinfo": self.rpc_getmempoolinfo,
            "estimatesmartfee": self.rpc_estimatesmartfee,
            "generatetoaddress": self.rpc_generatetoaddress,
            "submitblock": self.rpc_submitblock,
            "getnetworkinfo": self.rpc_getnetworkinfo,
        }

    def _block_or_fail(self, blockhash: Any) -> Block:
        blockhash = _hash("blockhash", blockhash)
        if not self.node.kernel.has_block(blockhash):
            raise BitcoinRpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
        return self.node.get_block(blockhash)

    def _header_json(self, block: Block) -> dict[str, Any]:
        n = self.node
        h = n.block_height(block.hash)
        d: dict[str, Any] = {
            "hash": block.hash,
            "confirmations": n.confirmations(block.hash),
            "height": h,
            "version": block.header.version,
            "versionHex": f"{block.header.version & 0xFFFFFFFF:08x}",
            "merkleroot": block.header.merkle_root[::-1].hex(),
            "time": block.header.time,
            "mediantime": n.median_time_past(block.hash),
            "nonce": block.header.nonce,
            "bits": f"{block.header.bits:08x}",
            "difficulty": difficulty(block.header.bits),
            "chainwork": f"{2 * (h + 1):064x}",  # regtest: 2 units of work per block
            "nTx": len(block.txs),
        }
        if h > 0:
            d["previousblockhash"] = block.header.prev_hash
        if n.in_active_chain(block.hash) and h < n.height():
            d["nextblockhash"] = n.block_hash(h + 1)
        return d

    # --- blockchain ----------------------------------------------------------------------

    def rpc_getblockchaininfo(self) -> dict[str, Any]:
        n = self.node
        tip = n.get_block(n.tip_hash())
        return {
            "chain": "regtest",
            "blocks": n.height(),
            "headers": n.height(),
            "bestblockhash": tip.hash,
            "difficulty": difficulty(tip.header.bits),
            "time": tip.header.time,
            "mediantime": n.median_time_past(),
            "verificationprogress": 1.0,
            "initialblockdownload": False,
            "chainwork": f"{2 * (n.height() + 1):064x}",
            "size_on_disk": 0,
            "pruned": False,
            "warnings": [],
        }

    def rpc_getblockcount(self) -> int:
        return self.node.height()

    def rpc_getbestblockhash(self) -> str:
        return self.node.tip_hash()

    def rpc_getblockhash(self, height: Any) -> str:
        if isinstance(height, bool) or not isinstance(height, int):
            raise BitcoinRpcError(RPC_TYPE_ERROR, "height: expected an integer")
        if not 0 <= height <= self.node.height():
            raise BitcoinRpcError(RPC_INVALID_PARAMETER, "Block height out of range")
        return self.node.block_hash(height)

    def rpc_getblockheader(self, blockhash: Any, verbose: Any = True) -> Any:
        verbose = _bool("verbose", verbose)
        block = self._block_or_fail(blockhash)
        if not verbose:
            return block.header.serialize().hex()
        return self._header_json(block)

    def rpc_getblock(self, blockhash: Any, verbosity: Any = 1) -> Any:
        verbosity = _verbosity("verbosity", verbosity, 3)
        block = self._block_or_fail(blockhash)
        if verbosity == 0:
            return block.serialize().hex()
        d = self._header_json(block)
        raw = block.serialize()
        stripped = len(raw) - sum(len(t.serialize()) - len(t.serialize(False)) for t in block.txs)
        d.update({"strippedsize": stripped, "size": len(raw), "weight": block.weight})
        if verbosity == 1:
            d["tx"] = [t.txid for t in block.txs]
        else:
            d["tx"] = [tx_json(t, self.node.network) for t in block.txs]
        return d

    def rpc_gettxout(self, txid: Any, n: Any, include_mempool: Any = True) -> Any:
        op = OutPoint(_hash("txid", txid), _int("n", n, 0, 2**32 - 1))
        include_mempool = _bool("include_mempool", include_mempool)
        node = self.node
        if include_mempool and op in node.mempool.spends:
            return None
        coin = node.get_coin(op)
        conf = 0
        if coin is not None:
            out, coinbase, conf = coin.output, coin.coinbase, node.height() - coin.height + 1
        elif include_mempool and (mout := node.mempool.output(op)) is not None:
            out, coinbase = mout, False
        else:
            return None
        return {
            "bestblock": node.tip_hash(),
            "confirmations": conf,
            "value": btc(out.value),
            "scriptPubKey": script_json(out.script_pubkey, node.network),
            "coinbase": coinbase,
        }

    def rpc_scantxoutset(self, action: Any, scanobjects: Any = None) -> Any:
        """`start` with `raw(<hex>)` or `addr(<address>)` descriptors, as Core's."""
        if action != "start":
            raise BitcoinRpcError(RPC_INVALID_PARAMETER, "Only 'start' is supported")
        if scanobjects is not None and not isinstance(scanobjects, list):
            raise BitcoinRpcError(RPC_TYPE_ERROR, "scanobjects: expected an array")
        unspents: list[dict[str, Any]] = []
        for obj in scanobjects or []:
            desc = _str("desc", obj.get("desc") if isinstance(obj, dict) else obj)
            desc = desc.split("#")[0]
            try:
                if desc.startswith("raw(") and desc.endswith(")"):
                    spk = bytes.fromhex(desc[4:-1])
                elif desc.startswith("addr(") and desc.endswith(")"):
                    spk = script_from_address(desc[5:-1], self.node.network)
                else:
                    raise BitcoinRpcError(RPC_INVALID_PARAMETER, f"unsupported descriptor {desc}")
            except (ValueError, AddressError) as e:
                raise BitcoinRpcError(RPC_INVALID_ADDRESS_OR_KEY, str(e)) from e
            for c in self.node.coins_for_script(spk):
                unspents.append(
                    {
                        "txid": c.outpoint.txid,
                        "vout": c.outpoint.vout,
                        "scriptPubKey": spk.hex(),
                        "desc": desc,
                        "amount": btc(c.output.value),
                        "coinbase": c.coinbase,
                        "height": c.height,
                    }
                )
        total = sum(round(u["amount"] * COIN) for u in unspents)
        return {
            "success": True,
            "txouts": self.node.index.utxo_stats()[0],
            "height": self.node.height(),
            "bestblock": self.node.tip_hash(),
            "unspents": unspents,
            "total_amount": btc(total),
        }

    # --- transactions ----------------------------------------------------------------------

    def rpc_getrawtransaction(self, txid: Any, verbose: Any = False, blockhash: Any = None) -> Any:
        txid = _hash("txid", txid)
        verbose = _verbosity("verbose", verbose, 2)
        if blockhash is not None:
            blockhash = _hash("blockhash", blockhash)
        found = self.node.get_tx(txid)
        if found is None or (blockhash is not None and found.block_hash != blockhash):
            raise BitcoinRpcError(
                RPC_INVALID_ADDRESS_OR_KEY,
                "No such mempool or blockchain transaction. "
                "Use gettransaction for wallet transactions.",
            )
        if not verbose:
            return found.tx.hex()
        d = tx_json(found.tx, self.node.network)
        if found.block_hash is not None:
            header = self.node.kernel.header(found.block_hash)
            d.update(
                {
                    "blockhash": found.block_hash,
                    "confirmations": self.node.confirmations(found.block_hash),
                    "time": header.time,
                    "blocktime": header.time,
                }
            )
        return d

    def rpc_decoderawtransaction(self, hexstring: Any) -> Any:
        try:
            return tx_json(Tx.from_bytes(_hex("hexstring", hexstring)), self.node.network)
        except ValueError as e:
            raise BitcoinRpcError(RPC_DESERIALIZATION_ERROR, "TX decode failed") from e

    def rpc_sendrawtransaction(self, hexstring: Any, maxfeerate: Any = 0.10) -> str:
        if isinstance(maxfeerate, bool) or not isinstance(maxfeerate, (int, float, Decimal)):
            raise BitcoinRpcError(RPC_TYPE_ERROR, "maxfeerate: expected a number")
        try:
            tx = Tx.from_bytes(_hex("hexstring", hexstring))
        except ValueError as e:
            raise BitcoinRpcError(RPC_DESERIALIZATION_ERROR, "TX decode failed") from e
        try:
            return self.node.send_raw_transaction(tx)
        except MempoolRejection as e:
            raise BitcoinRpcError(e.code, e.reason) from e

    def rpc_getrawmempool(self, verbose: Any = False) -> Any:
        entries = self.node.mempool.entries
        if not _bool("verbose", verbose):
            return list(entries)
        return {
            txid: {
                "vsize": e.vsize,
                "weight": e.tx.weight,
                "time": e.time,
                "fees": {"base": btc(e.fee)},
                "depends": sorted(e.parents),
            }
            for txid, e in entries.items()
        }

    def rpc_getmempoolinfo(self) -> dict[str, Any]:
        entries = self.node.mempool.entries.values()
        return {
            "loaded": True,
            "size": len(entries),
            "bytes": sum(e.vsize for e in entries),
            "minrelaytxfee": btc(MIN_RELAY_FEE * 1000),
            "mempoolminfee": btc(MIN_RELAY_FEE * 1000),
        }

    def rpc_estimatesmartfee(self, conf_target: Any, estimate_mode: Any = "conservative") -> Any:
        """Median fee rate of the mempool, never below the minimum relay fee (sat/vB -> BTC/kvB)."""
        conf_target = _int("conf_target", conf_target, 1, 1008)
        _str("estimate_mode", estimate_mode)
        rates = [e.fee_rate for e in self.node.mempool.entries.values()]
        rate = max(float(MIN_RELAY_FEE), statistics.median(rates) if rates else 0.0)
        return {"feerate": btc(round(rate * 1000)), "blocks": conf_target}

    # --- mining ----------------------------------------------------------------------------

    def rpc_generatetoaddress(self, nblocks: Any, address: Any, maxtries: Any = 1000000) -> Any:
        nblocks = _int("nblocks", nblocks, 0, MAX_GENERATE)
        _int("maxtries", maxtries, 0, 2**63 - 1)
        try:
            spk = script_from_address(_str("address", address), self.node.network)
        except (AddressError, ValueError) as e:
            raise BitcoinRpcError(RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address") from e
        return self.node.mine(nblocks, spk)

    def rpc_submitblock(self, hexdata: Any, dummy: Any = None) -> Any:
        try:
            block = Block.from_bytes(_hex("hexdata", hexdata))
        except ValueError as e:
            raise BitcoinRpcError(RPC_DESERIALIZATION_ERROR, "Block decode failed") from e
        result = self.node.submit_block(block)
        return None if result.connected else result.reason

    # --- network (what clients probe) ----------------------------------------------------

    def rpc_getnetworkinfo(self) -> dict[str, Any]:
        return {
            "version": 290000,
            "subversion": "/bitcoinzk-embedded:0.1.0/",
            "protocolversion": 70016,
            "relayfee": btc(MIN_RELAY_FEE * 1000),
            "incrementalfee": btc(MIN_RELAY_FEE * 1000),
            "networkactive": True,
            "connections": 0,
            "warnings": [],
        }


class BitcoinJsonRpc(httprpc.JsonRpcServer):
    """bitcoind's dialect: JSON-RPC 1.0/1.1 requests get `{"result", "error", "id"}` with
    HTTP 500 on error (404 for an unknown method), 2.0 requests get 2.0 replies with HTTP
    200; Core's error codes; one call at a time, as the node's SQLite wants."""

    def __init__(
        self, node: RegtestNode, limits: httprpc.HttpLimits, auth: str | None = None
    ) -> None:
        super().__init__(limits)
        self.node = node
        self.auth = auth
        self.methods.update(NodeRPC(node).table())

    def authorized(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "")
        return self.auth is None or hmac.compare_digest(given, self.auth)

    def check(self, request: dict[str, Any]) -> httprpc.Reply | None:
        if not isinstance(request.get("method"), str):
            return self.error(
                request, httprpc.MethodError(RPC_INVALID_REQUEST, "Method must be a string")
            )
        return None

    def params(self, request: dict[str, Any]) -> Any:
        params = request.get("params")
        return [] if params is None else params

    def not_found(self, name: str) -> httprpc.MethodError:
        return httprpc.MethodError(RPC_METHOD_NOT_FOUND, "Method not found")

    def bad_params(self, name: str, exc: TypeError) -> httprpc.MethodError:
        return httprpc.MethodError(RPC_MISC_ERROR, f"{name}: wrong parameters ({exc})")

    def internal(self, exc: Exception) -> httprpc.MethodError:
        return httprpc.MethodError(RPC_MISC_ERROR, f"internal error: {exc}")

    def not_an_object(self) -> httprpc.Reply:
        err = {"code": RPC_INVALID_REQUEST, "message": "Invalid Request object"}
        return {"result": None, "error": err, "id": None}, 400

    def skipped(self, request: Any) -> dict[str, Any] | None:
        rid = request.get("id") if isinstance(request, dict) else None
        err = {"code": RPC_MISC_ERROR, "message": "batch reply too large: not run"}
        return {"result": None, "error": err, "id": rid}

    async def call(self, fn: httprpc.Handler, args: list[Any], kwargs: dict[str, Any]) -> Any:
        with self.node.lock:  # one caller at a time, as the node's SQLite wants
            try:
                return fn(*args, **kwargs)
            except BitcoinRpcError as e:
                raise httprpc.MethodError(e.code, e.message) from None

    def reply(self, request: dict[str, Any], result: Any) -> httprpc.Reply:
        if request.get("jsonrpc") == "2.0":
            return {"jsonrpc": "2.0", "result": result, "id": request.get("id")}, 200
        return {"result": result, "error": None, "id": request.get("id")}, 200

    def error(self, request: Any, exc: httprpc.MethodError) -> httprpc.Reply:
        err = {"code": exc.code, "message": exc.message}
        rid = request.get("id") if isinstance(request, dict) else None
        if isinstance(request, dict) and request.get("jsonrpc") == "2.0":
            return {"jsonrpc": "2.0", "error": err, "id": rid}, 200
        return {"result": None, "error": err, "id": rid}, (
            404 if exc.code == RPC_METHOD_NOT_FOUND else 500
        )

    def refused(self, exc: httprpc.RequestRejected) -> web.Response:
        # bitcoind answers a request it cannot parse with HTTP 500 and a 1.0-style error.
        status = 500 if exc.code == RPC_PARSE_ERROR else exc.status
        reply = {"result": None, "error": {"code": exc.code, "message": exc.message}, "id": None}
        return web.json_response(reply, status=status)


class RpcServer:
    """Serves `BitcoinJsonRpc` on `host:port` from a background thread with its own event
    loop."""

    def __init__(
        self,
        node: RegtestNode,
        host: str = "127.0.0.1",
        port: int = 0,
        user: str | None = None,
        password: str | None = None,
        limits: httprpc.HttpLimits | None = None,
    ) -> None:
        self.limits = limits or httprpc.HttpLimits()
        self.host = host
        self.port = port
        auth = None
        if user is not None and password is not None:
            auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.rpc = BitcoinJsonRpc(node, self.limits, auth)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    def register(self, name: str, fn: httprpc.Handler) -> None:
        """Add a method (e.g. the bridge's `bzk_getDepositAddress`)."""
        self.rpc.methods[name] = fn

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> None:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="bitcoin-rpc", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("RPC server did not start")

    async def _start(self) -> None:
        app = httprpc.application(self.limits)
        app.router.add_post("/", self.rpc.handle_http)
        app.router.add_post("/wallet/{name}", self.rpc.handle_http)
        self._runner = httprpc.runner(app, self.limits)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = cast(asyncio.Server, server).sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        fut.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> RpcServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
