"""The block explorer served by the node: plain server-rendered HTML under /explorer.

No scripts and nothing fetched from elsewhere: pages are built here with every
value passed through `html.escape`, charts are inline SVG drawn on the server,
and the one stylesheet ships in the package (static/explorer.css). Bad input
gets a readable 400/404 page; an unexpected error is logged and answered with
a plain 500 page, never a traceback.

Routes:
  /explorer                   overview: chain, charts, latest blocks and batches, bridge
  /explorer/block/<n>         one block and its operations
  /explorer/batch/<n>         one batch: proof and settlement
  /explorer/tx/<hash>         a Layer-2 transaction, or the batch a settlement tx committed
  /explorer/account?q=<q>     an account by index or public key (balance, nonce, Merkle proof)
  /explorer/static/explorer.css
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from bitcoinzk.crypto.eddsa import PublicKey
from bitcoinzk.node.pipeline import final_latency
from bitcoinzk.sequencer.mempool import L2Mempool
from bitcoinzk.sequencer.store import BatchStatus, Store
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.state import State
from bitcoinzk.spec.tree import compute_root

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
LATEST = 20
"""Rows in the overview's block and batch tables."""
CHART_WINDOW = 60
"""Blocks (and batches) the overview's charts cover."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ChainView(Protocol):
    """What the explorer reads of a sequencer: the node's `Sequencer`, or a full node's
    view of the chain it follows."""

    @property
    def head(self) -> int: ...
    @property
    def state(self) -> State: ...
    @property
    def mempool(self) -> L2Mempool: ...
    @property
    def deposits(self) -> Mapping[bytes, object]: ...


class ExplorerNode(Protocol):
    """What the explorer reads of a node. Both the Layer-2 node and the full node mount the
    explorer on their HTTP app, so it names what it needs instead of importing either
    server (which would make the server and its explorer import each other)."""

    @property
    def params(self) -> ChainParams: ...
    @property
    def store(self) -> Store: ...
    @property
    def sequencer(self) -> ChainView: ...
    @property
    def prover(self) -> object | None: ...
    @property
    def bridge_view(self) -> Callable[[], dict[str, Any]] | None: ...
    @property
    def bitcoin_explorer_url(self) -> str | None: ...
    def proving_backlog(self) -> int: ...


class PageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def e(value: object) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def _short(text: str, keep: int = 10) -> str:
    return text if len(text) <= 2 * keep + 3 else f"{text[:keep]}…{text[-keep:]}"


def _when(ts: float | None) -> str:
    if ts is None:
        return "—"
    moment = datetime.fromtimestamp(ts, UTC)
    return f'<span title="{e(moment.isoformat())}">{e(moment.strftime("%H:%M:%S"))} UTC</span>'


def _status(status: str) -> str:
    cls = status if status.isalnum() else "other"
    return f'<span class="status status-{e(cls)}">{e(status)}</span>'


def _num(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return e(f"{value:,.{digits}f}")


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    """Cells are already-escaped HTML; a header starting with '#' is right-aligned."""
    head = "".join(
        f'<th class="num">{e(h[1:])}</th>' if h.startswith("#") else f"<th>{e(h)}</th>"
        for h in headers
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{c}</td>' if h.startswith("#") else f"<td>{c}</td>"
            for h, c in zip(headers, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    if not body:
        return f'<p class="note">{e(empty)}</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _kv(pairs: Iterable[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in pairs)
    return f'<table class="kv">{rows}</table>'


def batch_gas(info: dict[str, Any]) -> float | None:
    """A batch's share of its commit transaction's gas (split evenly among its batches)."""
    gas = info.get("commit_gas")
    if not gas:
        return None
    return float(gas) / max(1, int(info.get("batches_in_tx", 1)))


def _chart(
    title: str,
    points: Sequence[tuple[int, float]],
    unit: str,
    kind: str = "bar",
    subtitle: str = "",
) -> str:
    """An inline SVG chart of (x label, y) points: bars or a line with dots."""
    width, height, left, right, top, bottom = 360, 206, 44, 8, 10, 42
    inner_w, inner_h = width - left - right, height - top - bottom
    parts = [f'<div class="card"><h2>{e(title)}</h2>']
    if subtitle:
        parts.append(f'<p class="muted">{e(subtitle)}</p>')
    if not points:
        parts.append('<p class="note">No data yet.</p></div>')
        return "".join(parts)
    top_value = max(y for _, y in points) or 1.0
    svg = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{e(title)}">']
    for i in range(5):
        value = top_value * i / 4
        y = top + inner_h - inner_h * i / 4
        svg.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{e(_compact(value))}</text>'
        )
    svg.append(
        f'<line class="axis" x1="{left}" x2="{width - right}" '
        f'y1="{top + inner_h}" y2="{top + inner_h}"/>'
    )
    step = inner_w / len(points)
    coords = []
    marks = len(svg)
    for i, (label, value) in enumerate(points):
        x = left + step * i
        h = inner_h * value / top_value
        tip = f"<title>{e(label)}: {e(_compact(value))} {e(unit)}</title>"
        if kind == "bar":
            bw = max(step * 0.75, 1.0)
            svg.append(
                f'<rect class="bar" x="{x + (step - bw) / 2:.1f}" y="{top + inner_h - h:.1f}" '
                f'width="{bw:.1f}" height="{max(h, 0.5):.1f}">{tip}</rect>'
            )
        else:
            cx, cy = x + step / 2, top + inner_h - h
            coords.append(f"{cx:.1f},{cy:.1f}")
            svg.append(f'<circle class="dot" cx="{cx:.1f}" cy="{cy:.1f}" r="3">{tip}</circle>')
    if coords:
        svg.insert(marks, f'<polyline class="line" points="{" ".join(coords)}"/>')
    every = max(1, len(points) // 6)
    for i, (label, _) in enumerate(points):
        if i % every == 0 or i == len(points) - 1:
            x = left + step * (i + 0.5)
            svg.append(
                f'<text x="{x:.1f}" y="{top + inner_h + 15}" text-anchor="middle">{e(label)}</text>'
            )
    svg.append(
        f'<text x="{left + inner_w / 2:.1f}" y="{height - 3}" text-anchor="middle">'
        f"block number · {e(unit)}</text></svg>"
    )
    parts.append("".join(svg))
    parts.append("</div>")
    return "".join(parts)


def _compact(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1_000:.0f}k"
    if value >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2f}"


class Explorer:
    def __init__(self, node: ExplorerNode) -> None:
        self.node = node
        self.css = (STATIC / "explorer.css").read_text()

    # --- plumbing ---

    def page(self, title: str, body: str, status: int = 200) -> web.Response:
        chain = self.node.params.chain_id
        text = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · bitcoinzk explorer</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/explorer/static/explorer.css">
</head><body>
<header><a class="brand" href="/explorer">bitcoin<span>zk</span> explorer</a>
<span class="muted">chain {e(chain)} · head {e(self.node.sequencer.head)}</span>
<form action="/explorer/account" method="get">
<input type="text" name="q" placeholder="account index or public key hex" aria-label="account">
<button type="submit">Look up</button></form></header>
<main><h1>{e(title)}</h1>
{body}
</main></body></html>
"""
        return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")

    def error_page(self, status: int, message: str) -> web.Response:
        reason = {400: "Bad request", 404: "Not found"}.get(status, "Error")
        body = (
            f'<div class="card error"><p>{e(message)}</p>'
            '<p><a href="/explorer">Back to the overview</a></p></div>'
        )
        return self.page(f"{status} {reason}", body, status)

    def guard(self, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except PageError as exc:
                return self.error_page(exc.status, exc.message)
            except web.HTTPException:
                raise
            except Exception:
                log.exception("explorer page %s failed", request.path)
                return self.error_page(500, "Internal error; the node logged the details.")

        return wrapped

    def tx_link(self, tx_hash: str) -> str:
        return f'<a class="mono" href="/explorer/tx/{e(tx_hash)}">{e(_short(tx_hash))}</a>'

    def btc_link(self, txid: str | None) -> str:
        if not txid:
            return "—"
        base = self.node.bitcoin_explorer_url
        if not base:
            return f'<code title="{e(txid)}">{e(_short(txid))}</code>'
        url = base.replace("{txid}", txid) if "{txid}" in base else base + txid
        return f'<a class="mono" href="{e(url)}" title="{e(txid)}">{e(_short(txid))}</a>'

    # --- data ---

    def latest_blocks(self, limit: int) -> list[tuple[int, float, list[dict[str, Any]], int, int]]:
        rows = self.node.store.db.execute(
            "SELECT number, timestamp, ops, length(pubdata), fees FROM blocks "
            "ORDER BY number DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [(n, ts, json.loads(ops), size, fees) for n, ts, ops, size, fees in rows]

    def latest_batches(self, limit: int) -> list[tuple[int, str, dict[str, Any]]]:
        rows = self.node.store.db.execute(
            "SELECT number, status, info FROM batches ORDER BY number DESC LIMIT ?", (limit,)
        ).fetchall()
        return [(n, status, json.loads(info)) for n, status, info in rows]

    def status_counts(self) -> dict[str, int]:
        rows = self.node.store.db.execute("SELECT status, COUNT(*) FROM batches GROUP BY status")
        return {str(status): int(count) for status, count in rows}

    # --- pages ---

    async def overview(self, request: web.Request) -> web.StreamResponse:
        node = self.node
        blocks = self.latest_blocks(max(LATEST, CHART_WINDOW))
        batches = self.latest_batches(max(LATEST, CHART_WINDOW))
        status_of = {n: s for n, s, _ in batches}
        ops_in = {n: len(ops) for n, _, ops, _, _ in blocks}
        counts = self.status_counts()
        total_ops = node.store.db.execute("SELECT COUNT(*) FROM receipts WHERE status='included'")
        latency = final_latency(node.store)
        stats = [
            ("head block", _num(node.sequencer.head)),
            ("operations included", _num(total_ops.fetchone()[0])),
            ("accounts", _num(node.sequencer.state.num_accounts)),
            ("mempool", _num(len(node.sequencer.mempool))),
            *((f"batches {s}", _num(counts.get(s, 0))) for s in BatchStatus if counts.get(s)),
            (
                "inclusion → final p50 / p95",
                f"{_num(latency['p50_s'], 1)} s / {_num(latency['p95_s'], 1)} s"
                if latency["p50_s"] is not None
                else '<span class="muted">—</span>',
            ),
            *(
                [("proving backlog", f"{_num(node.proving_backlog())} blocks")]
                if node.prover is not None
                else []
            ),
            (
                "state root",
                f'<code title="{e(hex(node.sequencer.state.root))}">'
                f"{e(_short(hex(node.sequencer.state.root), 8))}</code>",
            ),
        ]
        summary = "".join(
            f'<div class="stat"><div class="k">{e(k)}</div><div class="v">{v}</div></div>'
            for k, v in stats
        )
        parts = [f'<div class="card stats">{summary}</div>', '<div class="grid">']
        parts.extend(self.charts(blocks, batches))
        parts.append("</div><p></p>")

        block_rows = [
            (
                f'<a href="/explorer/block/{n}">{n}</a>',
                _when(ts),
                _num(len(ops)),
                _num(sum(1 for op in ops if op.get("type") == "transfer")),
                _num(fees),
                _num(size),
                _status(status_of[n]) if n in status_of else '<span class="muted">—</span>',
            )
            for n, ts, ops, size, fees in blocks[:LATEST]
        ]
        parts.append(
            '<div class="card" id="blocks"><h2>Latest blocks</h2>'
            + _table(
                ("block", "time", "#ops", "#transfers", "#fees (sat)", "#pubdata bytes", "batch"),
                block_rows,
                "No blocks yet.",
            )
            + "</div>"
        )
        batch_rows = []
        for n, status, info in batches[:LATEST]:
            gas = batch_gas(info)
            ops = ops_in.get(n)
            tx = info.get("settlement_tx")
            batch_rows.append(
                (
                    f'<a href="/explorer/batch/{n}">{n}</a>',
                    _status(status),
                    _num(info.get("prove_s"), 2),
                    self.tx_link(str(tx)) if tx else '<span class="muted">—</span>',
                    _num(gas),
                    _num(gas / ops) if gas and ops else "—",
                    _when(info.get("final_at") or info.get("committed_at")),
                )
            )
        parts.append(
            '<div class="card" id="batches"><h2>Latest batches</h2>'
            + _table(
                (
                    "batch",
                    "status",
                    "#prove (s)",
                    "settlement tx",
                    "#commit gas",
                    "#gas / op",
                    "settled",
                ),
                batch_rows,
                "No batches yet.",
            )
            + "</div>"
        )
        parts.append(self.bridge())
        return self.page("Overview", "".join(parts))

    def charts(
        self,
        blocks: list[tuple[int, float, list[dict[str, Any]], int, int]],
        batches: list[tuple[int, str, dict[str, Any]]],
    ) -> list[str]:
        window = sorted(blocks[:CHART_WINDOW])
        throughput = [
            (n, float(sum(1 for op in ops if op.get("type") == "transfer")))
            for n, _, ops, _, _ in window
        ]
        subtitle = ""
        if len(window) >= 2:
            span = window[-1][1] - window[0][1]
            transfers = sum(int(y) for _, y in throughput[1:])
            if span > 0:
                subtitle = (
                    f"{transfers} transfers in {span:.1f} s over blocks "
                    f"{window[0][0]}–{window[-1][0]}: {transfers / span:.2f} transfers/s"
                )
        ops_in = {n: len(ops) for n, _, ops, _, _ in window}
        gas_per_op = [
            (n, (batch_gas(info) or 0) / ops_in[n])
            for n, _, info in sorted(batches[:CHART_WINDOW])
            if batch_gas(info) and ops_in.get(n)
        ]
        pubdata_per_op = [(n, size / len(ops)) for n, _, ops, size, _ in window if ops]
        return [
            _chart("Throughput: transfers per block", throughput, "transfers", "bar", subtitle),
            _chart(
                "Cost: commit gas per transfer",
                gas_per_op,
                "gas per operation",
                "line",
                "Commit gas of each committed batch (its share of a transaction that "
                "committed several) divided by its operations.",
            ),
            _chart(
                "Cost: pubdata bytes per transfer",
                pubdata_per_op,
                "bytes per operation",
                "line",
                "Data-availability bytes of each block divided by its operations.",
            ),
        ]

    def bridge(self) -> str:
        view = self.node.bridge_view
        head = '<div class="card" id="bridge"><h2>Bitcoin bridge</h2>'
        if view is None:
            return head + '<p class="note">No bridge attached to this node.</p></div>'
        try:
            data = view()
        except Exception as exc:
            log.exception("bridge view failed")
            return head + f'<p class="bad">Bridge view unavailable: {e(exc)}</p></div>'
        deposits = [
            (
                self.btc_link(d.get("txid")) + (f":{e(d['vout'])}" if "vout" in d else ""),
                _num(d.get("amount")),
                self.account_link(d["recipient"])
                if isinstance(d.get("recipient"), int)
                else e(d.get("recipient", "—")),
                _num(d.get("confirmations")),
                _status(str(d.get("status", "—"))),
                self.tx_link(str(d["l2_tx"])) if d.get("l2_tx") else "—",
            )
            for d in data.get("deposits", [])
        ]
        withdrawals = [
            (
                f'<a href="/explorer/batch/{e(w["batch"])}">{e(w["batch"])}</a>'
                if w.get("batch") is not None
                else "—",
                _num(w.get("amount")),
                f"<code>{e(_short(str(w.get('script_pubkey', '')), 12))}</code>",
                self.btc_link(w.get("payout_txid")),
                _num(w.get("confirmations")),
                _status(str(w.get("status", "—"))),
            )
            for w in data.get("withdrawals", [])
        ]
        return (
            head
            + "<h3>Deposits</h3>"
            + _table(
                (
                    "bitcoin txid",
                    "#amount (sat)",
                    "L2 account",
                    "#confirmations",
                    "status",
                    "L2 tx",
                ),
                deposits,
                "No deposits yet.",
            )
            + "<h3>Withdrawals</h3>"
            + _table(
                (
                    "batch",
                    "#amount (sat)",
                    "script_pubkey",
                    "payout txid",
                    "#confirmations",
                    "status",
                ),
                withdrawals,
                "No withdrawals yet.",
            )
            + "</div>"
        )

    async def block(self, request: web.Request) -> web.StreamResponse:
        number = _int_arg(request.match_info["n"], "block number")
        block = self.node.store.get_block(number)
        if block is None:
            raise PageError(
                404, f"There is no block {number} (the head is {self.node.sequencer.head})."
            )
        batch = self.node.store.get_batch(number)
        receipts = {
            int(pos): ("0x" + bytes(h).hex(), str(st))
            for h, pos, st in self.node.store.db.execute(
                "SELECT tx_hash, position, status FROM receipts WHERE block_number=?", (number,)
            )
        }
        info = _kv(
            [
                ("time", _when(block.timestamp)),
                (
                    "batch",
                    (f'<a href="/explorer/batch/{number}">{number}</a> ' + _status(batch.status))
                    if batch
                    else "—",
                ),
                ("operations", _num(len(block.ops))),
                ("fees (sat)", _num(block.fees)),
                ("pubdata bytes", _num(len(block.pubdata))),
                ("old state root", f"<code>{e(hex(block.old_root))}</code>"),
                ("new state root", f"<code>{e(hex(block.new_root))}</code>"),
                ("public input", f"<code>{e(hex(block.public_input))}</code>"),
            ]
        )
        rows = []
        for pos, op in enumerate(block.ops):
            tx_hash, status = receipts.get(pos, ("", ""))
            kind = str(op.get("type", "?"))
            if kind == "withdraw":
                to = f"<code>{e(_short(str(op.get('script_pubkey', '')), 10))}</code> (Bitcoin)"
            else:
                to = self.account_link(op.get("recipient"))
            rows.append(
                (
                    _num(pos),
                    self.tx_link(tx_hash) if tx_hash else "—",
                    e(kind),
                    self.account_link(op.get("sender")) if "sender" in op else "Bitcoin deposit",
                    to,
                    _num(op.get("amount")),
                    _num(op.get("fee")),
                    _status(status) if status else "—",
                )
            )
        pager = ['<div class="pager">']
        if number > 1:
            pager.append(f'<a href="/explorer/block/{number - 1}">← block {number - 1}</a>')
        if number < self.node.sequencer.head:
            pager.append(f'<a href="/explorer/block/{number + 1}">block {number + 1} →</a>')
        pager.append("</div>")
        body = (
            "".join(pager)
            + f'<div class="card">{info}</div><div class="card"><h2>Operations</h2>'
            + _table(
                ("#", "hash", "type", "from", "to", "#amount (sat)", "#fee", "receipt"),
                rows,
                "This block has no operations.",
            )
            + "</div>"
        )
        return self.page(f"Block {number}", body)

    def account_link(self, index: Any) -> str:
        if isinstance(index, int) and not isinstance(index, bool):
            return f'<a href="/explorer/account?q={index}">#{index}</a>'
        return "—"

    async def batch(self, request: web.Request) -> web.StreamResponse:
        number = _int_arg(request.match_info["n"], "batch number")
        batch = self.node.store.get_batch(number)
        if batch is None:
            raise PageError(404, f"There is no batch {number}.")
        proof, info = batch.proof, batch.info
        block = self.node.store.get_block(number)
        ops = len(block.ops) if block else 0
        pairs = [
            ("status", _status(batch.status)),
            ("block", f'<a href="/explorer/block/{number}">{number}</a>'),
            ("operations", _num(ops)),
            ("public input", f"<code>{e(hex(batch.public_input))}</code>"),
            (
                "proof",
                f'<code title="{e(proof.hex())}">{e(_short("0x" + proof.hex(), 16))}</code>'
                f" ({len(proof)} bytes)"
                if proof
                else '<span class="muted">not proven yet</span>',
            ),
        ]
        gas = batch_gas(info)
        if gas and ops:
            pairs.append(("commit gas per operation", _num(gas / ops)))
        if block and ops:
            pairs.append(("pubdata bytes per operation", _num(len(block.pubdata) / ops, 1)))
        for key, value in sorted(info.items()):
            label = key.replace("_", " ")
            if key == "settlement_tx" and isinstance(value, str):
                pairs.append((label, self.tx_link(value)))
            elif key.endswith("_at") and isinstance(value, int | float):
                pairs.append((label, _when(float(value))))
            elif isinstance(value, int | float) and not isinstance(value, bool):
                pairs.append((label, _num(value, 0 if isinstance(value, int) else 3)))
            else:
                pairs.append((label, f"<code>{e(value)}</code>"))
        pager = ['<div class="pager">']
        if self.node.store.get_batch(number - 1) is not None:
            pager.append(f'<a href="/explorer/batch/{number - 1}">← batch {number - 1}</a>')
        if self.node.store.get_batch(number + 1) is not None:
            pager.append(f'<a href="/explorer/batch/{number + 1}">batch {number + 1} →</a>')
        pager.append("</div>")
        body = "".join(pager) + f'<div class="card">{_kv(pairs)}</div>'
        return self.page(f"Batch {number}", body)

    async def tx(self, request: web.Request) -> web.StreamResponse:
        raw = _hash_arg(request.match_info["hash"])
        text = "0x" + raw.hex()
        store = self.node.store
        receipt = store.get_receipt(raw)
        if receipt is not None:
            pairs = [
                ("hash", f"<code>{e(text)}</code>"),
                ("status", _status(receipt.status)),
                (
                    "block",
                    f'<a href="/explorer/block/{receipt.block_number}">{receipt.block_number}</a>'
                    if receipt.block_number is not None
                    else "—",
                ),
                ("position", _num(receipt.position)),
            ]
            if receipt.error:
                pairs.append(("error", f'<span class="bad">{e(receipt.error)}</span>'))
            block = store.get_block(receipt.block_number) if receipt.block_number else None
            if block is not None and receipt.position is not None:
                op = block.ops[receipt.position]
                for key in ("type", "sender", "recipient", "amount", "fee", "nonce"):
                    if key in op:
                        value = op[key]
                        cell = (
                            self.account_link(value) if key in ("sender", "recipient") else e(value)
                        )
                        pairs.append((key, cell))
                for key in ("recipient_pubkey", "pubkey", "script_pubkey", "txid"):
                    if key in op:
                        pairs.append((key.replace("_", " "), f"<code>{e(op[key])}</code>"))
            return self.page("Layer-2 transaction", f'<div class="card">{_kv(pairs)}</div>')
        row = store.db.execute(
            "SELECT number FROM batches WHERE json_extract(info, '$.settlement_tx') = ?", (text,)
        ).fetchone()
        if row is not None:
            number = int(row[0])
            batch = store.get_batch(number)
            assert batch is not None
            info = batch.info
            pairs = [
                ("hash", f"<code>{e(text)}</code>"),
                (
                    "commits batch",
                    f'<a href="/explorer/batch/{number}">{number}</a> ' + _status(batch.status),
                ),
                ("settlement block", _num(info.get("settlement_block"))),
                ("gas used", _num(info.get("commit_gas"))),
                ("calldata bytes", _num(info.get("calldata_bytes"))),
                ("committed at", _when(info.get("committed_at"))),
            ]
            return self.page("Settlement transaction", f'<div class="card">{_kv(pairs)}</div>')
        sequencer = self.node.sequencer
        if raw in sequencer.mempool.entries or raw in sequencer.deposits:
            pairs = [("hash", f"<code>{e(text)}</code>"), ("status", _status("pending"))]
            return self.page("Layer-2 transaction", f'<div class="card">{_kv(pairs)}</div>')
        raise PageError(404, f"No Layer-2 or settlement transaction {text} is known here.")

    async def account(self, request: web.Request) -> web.StreamResponse:
        query = request.query.get("q", "").strip()
        form = (
            '<div class="card"><form action="/explorer/account" method="get" id="lookup">'
            f'<input type="text" name="q" value="{e(query)}" '
            'placeholder="account index or public key hex" aria-label="account"> '
            '<button type="submit">Look up</button></form></div>'
        )
        if not query:
            return self.page("Account lookup", form)
        try:
            return self.account_page(query, form)
        except PageError as exc:
            error = f'<div class="card error"><p>{e(exc.message)}</p></div>'
            title = "Account not found" if exc.status == 404 else "Bad account query"
            return self.page(title, form + error, exc.status)

    def account_page(self, query: str, form: str) -> web.Response:
        state = self.node.sequencer.state
        capacity = self.node.params.capacity
        index: int | None
        if _is_number(query):
            index = int(query)
            if index >= capacity:
                raise PageError(
                    400, f"Account index {index} is outside the tree (0–{capacity - 1})."
                )
        else:
            hexkey = query[2:] if query.lower().startswith("0x") else query
            if len(hexkey) != 64:
                raise PageError(
                    400, "Enter an account index or a 32-byte public key as 64 hex characters."
                )
            try:
                index = state.index_of(PublicKey.from_hex(hexkey))
            except Exception:
                raise PageError(400, "That is not a valid public key.") from None
        acct = None if index is None else state.get(index)
        if index is None or acct is None:
            raise PageError(404, f"No account {query} exists.")
        proof = state.proof(index)
        root = state.root
        verifies = compute_root(index, proof.leaf, proof.siblings) == root
        # 7 siblings per level of the 8-ary tree, labelled "level.child position".
        positions = [
            (level, j if j < (index >> (3 * level)) & 7 else j + 1)
            for level in range(len(proof.siblings) // 7)
            for j in range(7)
        ]
        siblings = "<br>".join(
            f"<code>{level}.{child}: {e(hex(s))}</code>"
            for (level, child), s in zip(positions, proof.siblings, strict=True)
        )
        pairs = [
            ("index", _num(index)),
            ("public key", f"<code>{e(acct.pubkey.hex())}</code>"),
            ("balance (sat)", f'<span id="balance">{_num(acct.balance)}</span>'),
            ("nonce", _num(acct.nonce)),
            ("pending nonce", _num(self.node.sequencer.mempool.pending_nonce(state, index))),
            ("leaf", f"<code>{e(hex(proof.leaf))}</code>"),
            ("state root", f'<code id="root">{e(hex(root))}</code>'),
            (
                "Merkle proof",
                (
                    '<span class="ok">verifies against the state root</span>'
                    if verifies
                    else '<span class="bad">does not verify</span>'
                )
                + f"<br>{siblings}",
            ),
        ]
        return self.page(f"Account #{index}", form + f'<div class="card">{_kv(pairs)}</div>')

    async def css_file(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            text=self.css,
            content_type="text/css",
            charset="utf-8",
            headers={"Cache-Control": "max-age=300"},
        )

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        raise PageError(404, f"There is no explorer page {request.path}.")

    async def redirect(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/explorer")


def _is_number(text: str) -> bool:
    # ASCII digits only: str.isdecimal() and int() also take other scripts' digits
    # ("١" is 1), so one block would have many addresses.
    return 0 < len(text) <= 12 and text.isascii() and text.isdigit()


def _int_arg(text: str, what: str) -> int:
    if not _is_number(text):
        raise PageError(400, f"The {what} must be a non-negative integer, not {text!r}.")
    return int(text)


def _hash_arg(text: str) -> bytes:
    body = text[2:] if text.lower().startswith("0x") else text
    # Exactly 64 digits: bytes.fromhex would also take spaces between them.
    if len(body) != 64 or not all(c in "0123456789abcdefABCDEF" for c in body):
        raise PageError(400, "A transaction hash is 32 bytes: 64 hex characters, 0x optional.")
    return bytes.fromhex(body)


def setup(app: web.Application, node: ExplorerNode) -> None:
    """Register the explorer's routes on the node's HTTP app."""
    x = Explorer(node)
    app.router.add_get("/explorer", x.guard(x.overview))
    app.router.add_get("/explorer/", x.guard(x.redirect))
    app.router.add_get("/explorer/static/explorer.css", x.css_file)
    app.router.add_get("/explorer/block/{n}", x.guard(x.block))
    app.router.add_get("/explorer/batch/{n}", x.guard(x.batch))
    app.router.add_get("/explorer/tx/{hash}", x.guard(x.tx))
    app.router.add_get("/explorer/account", x.guard(x.account))
    app.router.add_get("/explorer/{tail:.*}", x.guard(x.not_found))
