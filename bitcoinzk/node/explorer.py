"""The block explorer served by the node (HTML + JSON under /explorer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bitcoinzk.node.server import Node


def setup(app: web.Application, node: Node) -> None:
    """Register the explorer's routes on the node's HTTP app."""
    # Routes are added by the explorer implementation (in progress).
    del app, node
