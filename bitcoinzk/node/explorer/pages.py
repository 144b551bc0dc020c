"""The block explorer served by the node: plain server-rendered HTML under /explorer.

No scripts and nothing fetched from elsewhere: pages are Jinja2 templates
(templates/, one per page on a shared base layout) rendered with autoescaping,
charts are inline SVG laid out here and drawn by the overview's template, and
the one stylesheet ships in the package (static/explorer.css). Bad input gets a
readable 400/404 page; an unexpected error is logged and answered with a plain
500 page, never a traceback.

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
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import jinja2
from aiohttp import web
from markupsafe import Markup

from bitcoinzk.crypto.eddsa import PublicKey
from bitcoinzk.node.pipeline import final_latency
from bitcoinzk.sequencer.mempool import L2Mempool
from bitcoinzk.sequencer.store import BatchStatus, Store
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.state import State
from bitcoinzk.spec.tree import compute_root

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
TEMPLATES = Path(__file__).parent / "templates"
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


# --- what the templates format values with ---


def _escape(value: object) -> Markup:
    """Escape every `{{ value }}` as `html.escape` does before autoescaping sees it.

    Autoescaping alone would write a quote as `&#34;`; this keeps the pages' `&quot;`.
    Macro output and other template markup is already `Markup` and passes unchanged."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def _short(text: str, keep: int = 10) -> str:
    return text if len(text) <= 2 * keep + 3 else f"{text[:keep]}…{text[-keep:]}"


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _px(value: float) -> str:
    return f"{value:.1f}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        finalize=_escape,
        # a misspelt name fails the page (a 500 the tests see) instead of showing nothing
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(short=_short, num=_num, utc=_utc, px=_px, hex=hex)
    return env


# --- what the pages show ---


@dataclass(frozen=True)
class BlockRow:
    number: int
    timestamp: float
    ops: list[dict[str, Any]]
    pubdata_bytes: int
    fees: int

    @property
    def transfers(self) -> int:
        return sum(1 for op in self.ops if op.get("type") == "transfer")


@dataclass(frozen=True)
class BatchRow:
    number: int
    status: str
    info: dict[str, Any]
    ops: int | None
    """Operations of its block, when that block is among those read with it."""

    @property
    def gas(self) -> float | None:
        return batch_gas(self.info)

    @property
    def gas_per_op(self) -> float | None:
        return self.gas / self.ops if self.gas and self.ops else None

    @property
    def settlement_tx(self) -> str | None:
        tx = self.info.get("settlement_tx")
        return str(tx) if tx else None

    @property
    def settled_at(self) -> float | None:
        return self.info.get("final_at") or self.info.get("committed_at")


def batch_gas(info: dict[str, Any]) -> float | None:
    """A batch's share of its commit transaction's gas (split evenly among its batches)."""
    gas = info.get("commit_gas")
    if not gas:
        return None
    return float(gas) / max(1, int(info.get("batches_in_tx", 1)))


@dataclass(frozen=True)
class Mark:
    """One point of a chart: a bar's top-left corner and size, or a dot's centre."""

    label: int
    value: str
    x: float
    y: float
    width: float = 0.0
    height: float = 0.0


@dataclass
class Chart:
    """An inline SVG chart of (block number, value) points, laid out for overview.html."""

    title: str
    unit: str
    kind: str
    """Bars ("bar") or a line through dots ("line")."""
    subtitle: str = ""
    width: int = 360
    height: int = 206
    left: int = 44
    right: int = 8
    top: int = 10
    bottom: int = 42
    ticks: list[tuple[float, str]] = field(default_factory=list)
    """Gridlines: height and the value written beside it."""
    marks: list[Mark] = field(default_factory=list)
    x_labels: list[tuple[float, int]] = field(default_factory=list)

    @property
    def plot_width(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> int:
        return self.height - self.top - self.bottom

    @property
    def plot_right(self) -> int:
        return self.width - self.right

    @property
    def baseline(self) -> int:
        return self.top + self.plot_height


def chart(
    title: str,
    points: Sequence[tuple[int, float]],
    unit: str,
    kind: str = "bar",
    subtitle: str = "",
) -> Chart:
    """Lay out (x label, y) points: five gridlines, one mark per point, about six x labels."""
    c = Chart(title, unit, kind, subtitle)
    if not points:
        return c
    top_value = max(y for _, y in points) or 1.0
    for i in range(5):
        c.ticks.append((c.baseline - c.plot_height * i / 4, _compact(top_value * i / 4)))
    step = c.plot_width / len(points)
    for i, (label, value) in enumerate(points):
        x = c.left + step * i
        h = c.plot_height * value / top_value
        if kind == "bar":
            bar = max(step * 0.75, 1.0)
            c.marks.append(
                Mark(label, _compact(value), x + (step - bar) / 2, c.baseline - h, bar, max(h, 0.5))
            )
        else:
            c.marks.append(Mark(label, _compact(value), x + step / 2, c.baseline - h))
    every = max(1, len(points) // 6)
    for i, (label, _) in enumerate(points):
        if i % every == 0 or i == len(points) - 1:
            c.x_labels.append((c.left + step * (i + 0.5), label))
    return c


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
        self.templates = _environment()
        self.templates.globals["btc_url"] = self.btc_url

    # --- plumbing ---

    def render(self, template: str, title: str, status: int = 200, **values: Any) -> web.Response:
        text = self.templates.get_template(template).render(
            title=title,
            chain_id=self.node.params.chain_id,
            head=self.node.sequencer.head,
            **values,
        )
        return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")

    def error_page(self, status: int, message: str) -> web.Response:
        reason = {400: "Bad request", 404: "Not found"}.get(status, "Error")
        return self.render("error.html", f"{status} {reason}", status, message=message)

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

    def btc_url(self, txid: str) -> str | None:
        """Where the configured Bitcoin explorer shows `txid`, if one is configured."""
        base = self.node.bitcoin_explorer_url
        if not base:
            return None
        return base.replace("{txid}", txid) if "{txid}" in base else base + txid

    # --- data ---

    def latest_blocks(self, limit: int) -> list[BlockRow]:
        return [BlockRow(*row) for row in self.node.store.latest_blocks(limit)]

    def latest_batches(self, limit: int, ops_in: Mapping[int, int]) -> list[BatchRow]:
        return [
            BatchRow(n, status, info, ops_in.get(n))
            for n, status, info in self.node.store.latest_batches(limit)
        ]

    def status_counts(self) -> dict[str, int]:
        return {
            str(status): count for status, count in self.node.store.batch_status_counts().items()
        }

    # --- pages ---

    async def overview(self, request: web.Request) -> web.StreamResponse:
        node = self.node
        blocks = self.latest_blocks(max(LATEST, CHART_WINDOW))
        batches = self.latest_batches(
            max(LATEST, CHART_WINDOW), {b.number: len(b.ops) for b in blocks}
        )
        counts = self.status_counts()
        bridge, bridge_error = self.bridge()
        return self.render(
            "overview.html",
            "Overview",
            total_ops=node.store.included_count(),
            accounts=node.sequencer.state.num_accounts,
            mempool=len(node.sequencer.mempool),
            status_counts=[(str(s), counts[s]) for s in BatchStatus if counts.get(s)],
            latency=final_latency(node.store),
            backlog=node.proving_backlog() if node.prover is not None else None,
            state_root=hex(node.sequencer.state.root),
            charts=self.charts(blocks, batches),
            blocks=blocks[:LATEST],
            batch_status={b.number: b.status for b in batches},
            batches=batches[:LATEST],
            bridge=bridge,
            bridge_error=bridge_error,
        )

    def charts(self, blocks: list[BlockRow], batches: list[BatchRow]) -> list[Chart]:
        window = sorted(blocks[:CHART_WINDOW], key=lambda b: b.number)
        throughput = [(b.number, float(b.transfers)) for b in window]
        subtitle = ""
        if len(window) >= 2:
            span = window[-1].timestamp - window[0].timestamp
            transfers = sum(int(y) for _, y in throughput[1:])
            if span > 0:
                subtitle = (
                    f"{transfers} transfers in {span:.1f} s over blocks "
                    f"{window[0].number}–{window[-1].number}: {transfers / span:.2f} transfers/s"
                )
        ops_in = {b.number: len(b.ops) for b in window}
        gas_per_op = [
            (b.number, (b.gas or 0) / ops_in[b.number])
            for b in sorted(batches[:CHART_WINDOW], key=lambda b: b.number)
            if b.gas and ops_in.get(b.number)
        ]
        pubdata_per_op = [(b.number, b.pubdata_bytes / len(b.ops)) for b in window if b.ops]
        return [
            chart("Throughput: transfers per block", throughput, "transfers", "bar", subtitle),
            chart(
                "Cost: commit gas per transfer",
                gas_per_op,
                "gas per operation",
                "line",
                "Commit gas of each committed batch (its share of a transaction that "
                "committed several) divided by its operations.",
            ),
            chart(
                "Cost: pubdata bytes per transfer",
                pubdata_per_op,
                "bytes per operation",
                "line",
                "Data-availability bytes of each block divided by its operations.",
            ),
        ]

    def bridge(self) -> tuple[dict[str, list[dict[str, Any]]] | None, str | None]:
        """The bridge's deposits and withdrawals (None without a bridge), or why not."""
        view = self.node.bridge_view
        if view is None:
            return None, None
        try:
            data = view()
        except Exception as exc:
            log.exception("bridge view failed")
            return None, str(exc)
        return {
            "deposits": list(data.get("deposits", [])),
            "withdrawals": list(data.get("withdrawals", [])),
        }, None

    async def block(self, request: web.Request) -> web.StreamResponse:
        number = _int_arg(request.match_info["n"], "block number")
        block = self.node.store.get_block(number)
        if block is None:
            raise PageError(
                404, f"There is no block {number} (the head is {self.node.sequencer.head})."
            )
        receipts = {
            pos: ("0x" + h.hex(), st) for h, pos, st in self.node.store.block_receipts(number)
        }
        return self.render(
            "block.html",
            f"Block {number}",
            number=number,
            block=block,
            batch=self.node.store.get_batch(number),
            receipts=receipts,
        )

    async def batch(self, request: web.Request) -> web.StreamResponse:
        number = _int_arg(request.match_info["n"], "batch number")
        store = self.node.store
        batch = store.get_batch(number)
        if batch is None:
            raise PageError(404, f"There is no batch {number}.")
        block = store.get_block(number)
        ops = len(block.ops) if block else 0
        gas = batch_gas(batch.info)
        return self.render(
            "batch.html",
            f"Batch {number}",
            number=number,
            batch=batch,
            ops=ops,
            gas_per_op=gas / ops if gas and ops else None,
            pubdata_per_op=len(block.pubdata) / ops if block and ops else None,
            info=sorted(batch.info.items()),
            has_previous=store.get_batch(number - 1) is not None,
            has_next=store.get_batch(number + 1) is not None,
        )

    async def tx(self, request: web.Request) -> web.StreamResponse:
        raw = _hash_arg(request.match_info["hash"])
        text = "0x" + raw.hex()
        store = self.node.store
        receipt = store.get_receipt(raw)
        if receipt is not None:
            block = store.get_block(receipt.block_number) if receipt.block_number else None
            op = None
            if block is not None and receipt.position is not None:
                op = block.ops[receipt.position]
            return self.render(
                "tx.html", "Layer-2 transaction", tx_hash=text, receipt=receipt, op=op
            )
        number = store.batch_by_settlement_tx(text)
        if number is not None:
            batch = store.get_batch(number)
            assert batch is not None
            return self.render(
                "tx.html",
                "Settlement transaction",
                tx_hash=text,
                receipt=None,
                batch_number=number,
                batch=batch,
            )
        sequencer = self.node.sequencer
        if raw in sequencer.mempool.entries or raw in sequencer.deposits:
            return self.render(
                "tx.html", "Layer-2 transaction", tx_hash=text, receipt=None, batch=None
            )
        raise PageError(404, f"No Layer-2 or settlement transaction {text} is known here.")

    async def account(self, request: web.Request) -> web.StreamResponse:
        query = request.query.get("q", "").strip()
        if not query:
            return self.render(
                "account.html", "Account lookup", query=query, error=None, account=None
            )
        try:
            return self.account_page(query)
        except PageError as exc:
            title = "Account not found" if exc.status == 404 else "Bad account query"
            return self.render(
                "account.html", title, exc.status, query=query, error=exc.message, account=None
            )

    def account_page(self, query: str) -> web.Response:
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
        # 7 siblings per level of the 8-ary tree, labelled "level.child position".
        positions = [
            (level, j if j < (index >> (3 * level)) & 7 else j + 1)
            for level in range(len(proof.siblings) // 7)
            for j in range(7)
        ]
        return self.render(
            "account.html",
            f"Account #{index}",
            query=query,
            error=None,
            account=acct,
            index=index,
            pending_nonce=self.node.sequencer.mempool.pending_nonce(state, index),
            leaf=proof.leaf,
            root=root,
            verifies=compute_root(index, proof.leaf, proof.siblings) == root,
            siblings=[
                (level, child, s)
                for (level, child), s in zip(positions, proof.siblings, strict=True)
            ],
        )

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
