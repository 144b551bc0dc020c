"""The embedded Bitcoin node's RPC server in a process of its own, for attacks that could
crash it: `python -m tests.bitcoin.rpc_process DATADIR [HEADER_TIMEOUT BODY_TIMEOUT]`
prints `listening PORT`, serves until its stdin closes."""

from __future__ import annotations

import sys
from pathlib import Path

# As in `bzk devnet`: the Layer-2 node's imports (py_ecc) raise the recursion limit to
# 100000, the setting under which a deeply nested body used to segfault the process.
import bitcoinzk.node.server  # noqa: F401
from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.rpc_server import RpcServer
from bitcoinzk.httprpc import HttpLimits


def main() -> None:
    node = RegtestNode(Path(sys.argv[1]))
    node.mine(2)
    limits = HttpLimits()
    if len(sys.argv) > 3:
        limits = HttpLimits(header_timeout=float(sys.argv[2]), body_timeout=float(sys.argv[3]))
    server = RpcServer(node, port=0, limits=limits)
    server.start()
    print(f"listening {server.port} recursionlimit={sys.getrecursionlimit()}", flush=True)
    sys.stdin.read()
    server.stop()
    node.close()


if __name__ == "__main__":
    main()
