"""The explorer pages of a real node: over plain HTTP, and in a real headless Chromium.

One node runs for the whole module (in its own thread and event loop) with the
prover and the embedded settlement at the smallest circuit (D=6 B=2 E=1, keys
cached), and has proven, committed and finalised its batches before any page is
read. A second node without a prover serves the bridge and failed-batch views.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from bitcoinzk.node.rpc.client import AsyncNodeClient
from bitcoinzk.node.server import Node, NodeConfig
from bitcoinzk.procutil import free_port
from bitcoinzk.sequencer.sequencer import SequencerConfig
from bitcoinzk.sequencer.store import BatchStatus, Receipt
from bitcoinzk.spec.params import ChainParams
from tests.node.conftest import proving_config, send_until_final
from tests.spec.helpers import genesis, key, transfer, withdraw

PARAMS = ChainParams(chain_id=7, tree_depth=6, block_slots=2, block_records=1, fee_account=0)
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "artifacts"
PLAYWRIGHT = ROOT / "build" / "playwright" / "node_modules" / "playwright-core"
T = TypeVar("T")


class NodeThread:
    """A node on its own event loop in a daemon thread, so plain sync tests can read it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 600) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def _ops() -> list[Any]:
    p = PARAMS
    return [
        transfer(1, 2, 1_000, params=p),
        transfer(1, 3, 700, nonce=1, params=p),
        transfer(2, 1, 300, params=p),
        transfer(1, 2, 250, nonce=2, params=p),
        withdraw(2, 2_000, nonce=1, params=p),
    ]


async def _start(config: NodeConfig) -> Node:
    node = Node(config, genesis(params=PARAMS))
    await node.start()
    return node


async def _drive(node: Node) -> list[dict[str, Any]]:
    """Send the operations and wait until every block is final."""
    async with aiohttp.ClientSession() as session:
        return await send_until_final(AsyncNodeClient(session, node.url), _ops())


@pytest.fixture(scope="module")
def devnode(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Node, list[dict[str, Any]]]]:
    runner = NodeThread()
    config = proving_config(tmp_path_factory.mktemp("explorer") / "node", "embedded")
    node = runner.run(_start(config))
    try:
        batches = runner.run(_drive(node))
        yield node, batches
    finally:
        runner.run(node.stop())
        runner.close()


@pytest.fixture(scope="module")
def plainnode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """No prover, no settlement: its batches stay pending unless a test moves them."""
    runner = NodeThread()
    config = NodeConfig(
        data_dir=tmp_path_factory.mktemp("explorer-plain") / "node",
        port=free_port(),
        sequencer=SequencerConfig(block_time=0.1),
        verify_workers=1,
    )
    node = runner.run(_start(config))

    async def one_block() -> None:
        async with aiohttp.ClientSession() as session:
            rpc = AsyncNodeClient(session, node.url)
            await rpc("bzk_sendTransaction", transfer(1, 2, 500, params=PARAMS).to_json())
            for _ in range(100):
                if await rpc("bzk_blockNumber") >= 1:
                    return
                await asyncio.sleep(0.1)
            raise AssertionError("no block produced")

    try:
        runner.run(one_block())
        yield node
    finally:
        runner.run(node.stop())
        runner.close()


def get(node: Node, path: str) -> tuple[int, str, str]:
    """GET a page without following redirects: (status, content type, body)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    url = node.url.rstrip("/") + path
    try:
        with opener.open(url, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode()


def assert_page(status: int, ctype: str, body: str, expected: int) -> None:
    assert status == expected, body[:2000]
    assert ctype.startswith("text/html"), ctype
    assert body.startswith("<!doctype html>")
    assert "Traceback" not in body


# --- plain HTTP ---


def test_overview_shows_blocks_batches_charts(devnode):
    node, batches = devnode
    status, ctype, body = get(node, "/explorer")
    assert_page(status, ctype, body, 200)
    assert "Latest blocks" in body and "Latest batches" in body
    for b in batches:
        assert f'href="/explorer/batch/{b["number"]}"' in body
        assert f'href="/explorer/tx/{b["settlement_tx"]}"' in body
    assert body.count("status-final") >= len(batches)
    # every batch is final: inclusion -> final latency has figures, the backlog is empty
    assert "inclusion → final p50 / p95" in body
    assert re.search(r"[0-9.]+ s / [0-9.]+ s", body)
    assert "0 blocks" in body
    assert "No bridge attached to this node." in body
    # Three inline SVG charts, each with data.
    assert body.count('<svg class="chart"') == 3
    assert body.count('<rect class="bar"') == len(batches)
    assert "transfers/s" in body
    # Offline: no script, and nothing loaded from another host.
    assert "<script" not in body
    assert not re.search(r'(src|href)="(https?:)?//', body)
    status, ctype, css = get(node, "/explorer/static/explorer.css")
    assert status == 200 and ctype.startswith("text/css") and ".status-final" in css
    status, _, _ = get(node, "/explorer/")
    assert status == 302


def test_block_batch_and_tx_pages(devnode):
    node, batches = devnode
    first = batches[0]
    status, ctype, body = get(node, f"/explorer/block/{first['number']}")
    assert_page(status, ctype, body, 200)
    assert f"Block {first['number']}" in body and "Operations" in body
    hashes = re.findall(r'href="/explorer/tx/(0x[0-9a-f]{64})"', body)
    assert hashes, body
    status, ctype, body = get(node, f"/explorer/tx/{hashes[0]}")
    assert_page(status, ctype, body, 200)
    assert "Layer-2 transaction" in body and "status-included" in body

    status, ctype, body = get(node, f"/explorer/batch/{first['number']}")
    assert_page(status, ctype, body, 200)
    assert "status-final" in body and "(256 bytes)" in body
    assert "commit gas per operation" in body and "prove s" in body
    assert first["settlement_tx"] in body

    status, ctype, body = get(node, f"/explorer/tx/{first['settlement_tx']}")
    assert_page(status, ctype, body, 200)
    assert "Settlement transaction" in body
    assert f'href="/explorer/batch/{first["number"]}"' in body
    assert f"{first['commit_gas']:,}" in body


def test_account_lookup(devnode):
    node, _ = devnode
    status, ctype, body = get(node, "/explorer/account")
    assert_page(status, ctype, body, 200)
    assert 'id="lookup"' in body
    state = node.sequencer.state
    for q in ("1", key(1).public_key().hex(), "0x" + key(1).public_key().hex()):
        status, ctype, body = get(node, f"/explorer/account?q={q}")
        assert_page(status, ctype, body, 200)
        assert "Account #1" in body
        assert f'<span id="balance">{state.get(1).balance:,}</span>' in body
        assert hex(state.root) in body and "verifies against the state root" in body


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/explorer/block/abc", 400),
        ("/explorer/block/-1", 400),
        ("/explorer/block/99999999999999999999", 400),
        ("/explorer/block/999", 404),
        ("/explorer/block/0", 404),
        ("/explorer/batch/x1", 400),
        ("/explorer/batch/999", 404),
        ("/explorer/tx/zz", 400),
        ("/explorer/tx/0x" + "ab" * 31, 400),
        ("/explorer/tx/0x" + "ab" * 32, 404),
        ("/explorer/account?q=abc", 400),
        ("/explorer/account?q=64", 400),
        ("/explorer/account?q=9", 404),
        ("/explorer/account?q=" + "ff" * 32, 400),
        ("/explorer/nothing/here", 404),
    ],
)
def test_bad_input_gives_a_readable_page(devnode, path, expected):
    node, _ = devnode
    status, ctype, body = get(node, path)
    assert_page(status, ctype, body, expected)
    assert "Back to the overview" in body or 'id="lookup"' in body


def test_user_input_is_escaped(devnode):
    node, _ = devnode
    evil = "<script>alert(1)</script>"
    for path in (
        "/explorer/account?q=" + urllib.parse.quote(evil),
        "/explorer/block/" + urllib.parse.quote(evil, safe=""),
        "/explorer/" + urllib.parse.quote(evil, safe=""),
    ):
        status, _, body = get(node, path)
        assert status in (400, 404), path
        assert "<script" not in body, path
    _, _, body = get(node, "/explorer/account?q=" + urllib.parse.quote('"><b>x'))
    assert "<b>x" not in body and "&quot;&gt;&lt;b&gt;x" in body


@pytest.mark.parametrize(
    "path",
    [
        "/explorer/block/\u0661",  # ARABIC-INDIC DIGIT ONE: int() reads it as 1
        "/explorer/block/\uff11",  # FULLWIDTH DIGIT ONE
        "/explorer/batch/\u0967",  # DEVANAGARI DIGIT ONE
        "/explorer/account?q=\u0661",
        "/explorer/tx/" + "ab " * 31 + "ab",  # bytes.fromhex() skips the spaces
    ],
)
def test_only_ascii_digits_and_hex_name_a_page(plainnode, path):
    # Issue 11 §6: /explorer/block/١ showed block 1.
    assert get(plainnode, "/explorer/block/1")[0] == 200
    status, ctype, body = get(plainnode, urllib.parse.quote(path, safe="/?="))
    assert_page(status, ctype, body, 400)


def test_bridge_view_and_failed_batch(plainnode):
    node = plainnode
    status, _, body = get(node, "/explorer")
    assert status == 200 and "status-pending" in body
    node.bitcoin_explorer_url = "http://localhost:3002/tx/{txid}"
    txid = "aa" * 32
    node.bridge_view = lambda: {
        "deposits": [
            {
                "txid": txid,
                "vout": 1,
                "amount": 50_000,
                "recipient": "<i>1</i>",
                "confirmations": 6,
                "status": "credited",
                "l2_tx": "0x" + "cd" * 32,
            }
        ],
        "withdrawals": [
            {
                "batch": 1,
                "amount": 20_000,
                "script_pubkey": "5120" + "11" * 32,
                "payout_txid": None,
                "confirmations": 0,
                "status": "waiting",
            }
        ],
    }
    try:
        status, _, body = get(node, "/explorer")
        assert status == 200
        assert f'href="http://localhost:3002/tx/{txid}"' in body
        assert "50,000" in body and "20,000" in body and "status-credited" in body
        assert "&lt;i&gt;1&lt;/i&gt;" in body and "<i>1</i>" not in body

        def broken() -> dict[str, Any]:
            raise RuntimeError("bitcoind <down>")

        node.bridge_view = broken
        status, _, body = get(node, "/explorer")
        assert status == 200 and "Bridge view unavailable: bitcoind &lt;down&gt;" in body
    finally:
        node.bridge_view = None
        node.bitcoin_explorer_url = None
    node.store.update_batch(1, BatchStatus.FAILED, error="<boom>")
    status, _, body = get(node, "/explorer/batch/1")
    assert status == 200 and "status-failed" in body and "&lt;boom&gt;" in body
    status, _, body = get(node, "/explorer")
    assert status == 200 and "status-failed" in body and "batches failed" in body


def test_hostile_strings_come_out_escaped(plainnode):
    # Everything a page shows is text, wherever it came from: a bridge's script_pubkey,
    # recipient and status, the configured Bitcoin explorer URL, a receipt's and a batch's
    # error, a failing bridge's exception message.
    node = plainnode
    evil = "<script>alert(1)</script>"
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    node.bitcoin_explorer_url = 'http://x/"><script>alert(1)</script>'
    node.bridge_view = lambda: {
        "deposits": [{"txid": "aa" * 32, "amount": 1, "recipient": evil, "status": evil}],
        "withdrawals": [{"batch": 1, "amount": 1, "script_pubkey": evil, "payout_txid": "bb" * 32}],
    }
    try:
        status, _, body = get(node, "/explorer")
        assert status == 200 and "<script" not in body
        assert body.count(escaped) == 5  # recipient, status, script_pubkey and both URLs
        assert 'href="http://x/&quot;&gt;' + escaped + "aa" in body

        def broken() -> dict[str, Any]:
            raise RuntimeError(evil)

        node.bridge_view = broken
        status, _, body = get(node, "/explorer")
        assert status == 200 and "<script" not in body
        assert f"Bridge view unavailable: {escaped}" in body
    finally:
        node.bridge_view = None
        node.bitcoin_explorer_url = None

    tx_hash = bytes(range(32))
    node.store.put_receipt(Receipt(tx_hash, evil, None, None, evil, {}))
    status, _, body = get(node, "/explorer/tx/0x" + tx_hash.hex())
    assert status == 200 and "<script" not in body
    assert f'<span class="status status-other">{escaped}</span>' in body
    assert f'<span class="bad">{escaped}</span>' in body

    node.store.update_batch(1, BatchStatus.FAILED, error=evil)
    status, _, body = get(node, "/explorer/batch/1")
    assert status == 200 and "<script" not in body and f"<code>{escaped}</code>" in body


# --- a real headless browser ---

BROWSER_SCRIPT = r"""
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const [base, shotDir, userDir, pubkey] = process.argv.slice(2);
(async () => {
  const problems = [];
  const context = await chromium.launchPersistentContext(userDir, {
    executablePath: process.env.CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    // playwright's 30 s default: a CI machine busy with the rest of the suite has
    // taken longer than that to start chromium (the page checks are unchanged)
    timeout: 120000,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  context.setDefaultTimeout(120000);
  const page = context.pages()[0] || await context.newPage();
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning")
    problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  const out = { problems };
  await page.goto(base + "explorer", { waitUntil: "load" });
  out.title = await page.title();
  out.batches = await page.$$eval("#batches tbody tr", (rows) => rows.map((r) => ({
    number: r.cells[0].innerText.trim(), status: r.cells[1].innerText.trim(),
    tx: r.cells[3].innerText.trim() })));
  out.charts = await page.$$eval("svg.chart",
    (svgs) => svgs.map((s) => s.getBoundingClientRect().height));
  out.cssLoaded = await page.$eval(".status-final", (el) => getComputedStyle(el).backgroundColor);
  await page.screenshot({ path: shotDir + "/explorer.png", fullPage: true });
  // Account lookup through the header form, by index.
  await page.fill("header input[name=q]", "1");
  await Promise.all([page.waitForNavigation(), page.click("header button")]);
  const text = (sel) => page.$eval(sel, (el) => el.innerText);
  out.byIndex = { title: await page.title(), balance: await text("#balance") };
  // ... and by public key through the page's own form.
  await page.fill("#lookup input[name=q]", pubkey);
  await Promise.all([page.waitForNavigation(), page.click("#lookup button")]);
  out.byKey = { title: await page.title(), balance: await text("#balance"),
    root: await text("#root") };
  await page.screenshot({ path: shotDir + "/explorer-account.png", fullPage: true });
  // Follow a batch link from the overview.
  await page.goto(base + "explorer", { waitUntil: "load" });
  await Promise.all([page.waitForNavigation(), page.click("#batches tbody tr a")]);
  out.batchPage = await page.title();
  await context.close();
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
"""


def _chromium() -> str | None:
    for path in ("/usr/lib/chromium/chromium", shutil.which("chromium")):
        if path and os.access(path, os.X_OK):
            return path
    return None


def test_explorer_in_headless_chromium(devnode, tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("Debian chromium is not installed (scripts/setup-extra.sh installs it)")
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the browser test drives chromium via playwright-core")
    if not (PLAYWRIGHT / "package.json").exists():
        pytest.skip(f"playwright-core is not installed in {PLAYWRIGHT} (scripts/setup-extra.sh)")
    node, batches = devnode
    ARTIFACTS.mkdir(exist_ok=True)
    script = tmp_path / "explorer_browser.cjs"
    script.write_text(BROWSER_SCRIPT)
    pubkey = key(2).public_key().hex()
    env = {**os.environ, "PLAYWRIGHT_CORE": str(PLAYWRIGHT), "CHROMIUM": chromium}
    proc = subprocess.run(
        ["node", str(script), node.url, str(ARTIFACTS), str(tmp_path / "profile"), pubkey],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    # chromium floods stderr with D-Bus complaints (no bus in the sandbox): drop them so
    # the failure shows playwright's own error
    errors = [line for line in proc.stderr.splitlines() if "dbus" not in line]
    assert proc.returncode == 0, "\n".join(errors)[-4000:]
    out = json.loads(proc.stdout)
    assert out["problems"] == [], out["problems"]
    assert out["title"].startswith("Overview")
    shown = {int(row["number"]): row for row in out["batches"]}
    assert set(shown) == {b["number"] for b in batches}
    for b in batches:
        assert shown[b["number"]]["status"] == "final"
        assert shown[b["number"]]["tx"].startswith(b["settlement_tx"][:10])
    assert len(out["charts"]) == 3 and all(h > 50 for h in out["charts"])
    assert out["cssLoaded"] == "rgb(26, 122, 58)"  # the stylesheet was applied
    state = node.sequencer.state
    assert out["byIndex"] == {
        "title": "Account #1 · bitcoinzk explorer",
        "balance": f"{state.get(1).balance:,}",
    }
    index = state.index_of(key(2).public_key())
    assert out["byKey"]["title"] == f"Account #{index} · bitcoinzk explorer"
    assert out["byKey"]["balance"] == f"{state.get(index).balance:,}"
    assert out["byKey"]["root"] == hex(state.root)
    assert out["batchPage"].startswith("Batch ")
    assert (ARTIFACTS / "explorer.png").stat().st_size > 10_000
