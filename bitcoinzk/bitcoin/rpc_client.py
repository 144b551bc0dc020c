"""The project's one Bitcoin RPC client: bitcoind (any network) or the embedded node.

Standard library HTTP only, synchronous, one connection per call (bitcoind's
work queue does not care, and nothing here is hot).  It speaks JSON-RPC 1.0
like bitcoin-cli and accepts both of bitcoind's error styles (HTTP 500 with a
JSON body, or 200 with JSON-RPC 2.0).  Auth is user/password or Core's
`.cookie` file.  Typed helpers return the project's own `Block`/`Tx`.
"""

from __future__ import annotations

import base64
import http.client
import itertools
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bitcoinzk import safejson

from .block import Block
from .tx import OutPoint, Tx, TxOut

COIN = 100_000_000


class BitcoinRpcError(Exception):
    """An error answered by the server, with bitcoind's code and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message


class RPCTransportError(Exception):
    """The server could not be reached or answered something that is not JSON-RPC."""


def to_sats(btc: Decimal | float | int | str) -> int:
    return int((Decimal(str(btc)) * COIN).to_integral_value())


@dataclass(frozen=True)
class ScannedCoin:
    outpoint: OutPoint
    output: TxOut
    height: int
    coinbase: bool


class BitcoinRPC:
    """`BitcoinRPC("http://127.0.0.1:18443/", user="u", password="p")`,
    or `cookie_file=Path(datadir) / "regtest/.cookie"`."""

    def __init__(
        self,
        url: str,
        user: str | None = None,
        password: str | None = None,
        cookie_file: Path | str | None = None,
        timeout: float = 30.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname is None:
            raise ValueError(f"bad RPC URL {url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (18443 if not self._https else 443)
        self._path = parts.path or "/"
        user = user or parts.username
        password = password or parts.password
        if cookie_file is not None:
            user, _, password = Path(cookie_file).read_text().strip().partition(":")
        self._auth = None
        if user is not None:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            self._auth = f"Basic {token}"
        self._timeout = timeout
        self._ids = itertools.count(1)

    # --- transport -----------------------------------------------------------------------

    def call(self, method: str, *params: Any) -> Any:
        body = json.dumps(
            {"jsonrpc": "1.0", "id": next(self._ids), "method": method, "params": list(params)}
        )
        headers = {"Content-Type": "application/json"}
        if self._auth:
            headers["Authorization"] = self._auth
        conn_cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = conn_cls(self._host, self._port, timeout=self._timeout)
        try:
            conn.request("POST", self._path, body, headers)
            resp = conn.getresponse()
            raw = resp.read()
        except OSError as e:
            raise RPCTransportError(f"{method}: {e}") from e
        finally:
            conn.close()
        if resp.status == 401:
            raise RPCTransportError("authentication failed (HTTP 401)")
        try:
            reply = safejson.loads(raw, parse_float=Decimal)
        except ValueError as e:
            raise RPCTransportError(f"{method}: HTTP {resp.status}, not JSON: {raw[:80]!r}") from e
        if not isinstance(reply, dict):
            raise RPCTransportError(f"{method}: unexpected reply {reply!r:.80}")
        err = reply.get("error")
        if err is not None:
            if not isinstance(err, dict) or not isinstance(err.get("code", -1), int):
                raise RPCTransportError(f"{method}: malformed error {err!r:.80}")
            raise BitcoinRpcError(int(err.get("code", -1)), str(err.get("message", "")))
        if "result" not in reply:
            raise RPCTransportError(f"{method}: reply without result")
        return reply["result"]

    def __getattr__(self, name: str) -> Any:
        """`rpc.getblockcount()` for any method without a typed helper."""
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *params: self.call(name, *params)

    # --- typed helpers (the calls the project relies on) ---------------------------------

    def getblockcount(self) -> int:
        return int(self.call("getblockcount"))

    def getblockhash(self, height: int) -> str:
        return str(self.call("getblockhash", height))

    def get_block(self, block_hash: str) -> Block:
        return Block.from_bytes(bytes.fromhex(self.call("getblock", block_hash, 0)))

    def get_transaction(self, txid: str) -> Tx:
        return Tx.from_hex(self.call("getrawtransaction", txid, False))

    def send_transaction(self, tx: Tx) -> str:
        return str(self.call("sendrawtransaction", tx.hex()))

    def get_txout(self, op: OutPoint, include_mempool: bool = True) -> dict[str, Any] | None:
        result = self.call("gettxout", op.txid, op.vout, include_mempool)
        return result if result is None else dict(result)

    def scan_script(self, spk: bytes) -> list[ScannedCoin]:
        """Unspent outputs paying `spk`, through `scantxoutset` (no wallet needed)."""
        result = self.call("scantxoutset", "start", [f"raw({spk.hex()})"])
        return [
            ScannedCoin(
                OutPoint(u["txid"], int(u["vout"])),
                TxOut(to_sats(u["amount"]), bytes.fromhex(u["scriptPubKey"])),
                int(u["height"]),
                bool(u.get("coinbase", False)),
            )
            for u in result["unspents"]
        ]

    def estimate_fee_rate(self, conf_target: int = 6, fallback: float = 1.0) -> float:
        """sat/vB; `fallback` when the node has no estimate (fresh regtest bitcoind)."""
        result = self.call("estimatesmartfee", conf_target)
        if "feerate" not in result:
            return fallback
        return float(Decimal(str(result["feerate"])) * COIN / 1000)

    def generate_to_address(self, n: int, address: str) -> list[str]:
        return list(self.call("generatetoaddress", n, address))

    # --- the BlockSource protocol (what chain watchers read) -----------------------------

    def height(self) -> int:
        return self.getblockcount()

    def block_hash(self, height: int) -> str:
        return self.getblockhash(height)
