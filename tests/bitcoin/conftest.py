from __future__ import annotations

from collections.abc import Iterator

import pytest

from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.wallet import BitcoinWallet


@pytest.fixture
def node(tmp_path) -> Iterator[RegtestNode]:
    n = RegtestNode(tmp_path / "node")
    yield n
    n.close()


@pytest.fixture
def wallet() -> BitcoinWallet:
    return BitcoinWallet.from_seed(b"\x07" * 32, lookahead=5)


@pytest.fixture
def funded(node: RegtestNode, wallet: BitcoinWallet) -> tuple[RegtestNode, BitcoinWallet]:
    """Three mature 50 BTC coinbases for the wallet."""
    node.mine(3, wallet.new_key().script_pubkey)
    node.mine(100)
    return node, wallet
