"""Exodus tests share the settlement tests' real batch proofs (B2-E1-D6) and EVM clients."""

from tests.settlement.evm.conftest import anvil_url, batches, client

__all__ = ["anvil_url", "batches", "client"]
