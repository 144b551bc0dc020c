"""Settlement gas benchmark: `python benchmarks/settle_gas.py [--rpc URL] [sizes...]`.

Prints progress, then as its last line one JSON object (the same as `bzk bench settle --json`).
"""

from __future__ import annotations

import argparse
import json

from bitcoinzk.bench.settlement import (
    DEFAULT_SIZES,
    PRODUCTION_SHAPE,
    bench_production,
    bench_settle,
)
from bitcoinzk.settlement.evm.client import EvmClient, open_client


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=list(DEFAULT_SIZES))
    parser.add_argument("--rpc", default=None, help="JSON-RPC URL (default: embedded py-evm)")
    parser.add_argument("--anvil", action="store_true", help="start a local anvil and use it")
    parser.add_argument(
        "--no-production", action="store_true", help="skip the batched commitBatches grid"
    )
    args = parser.parse_args()
    node = None
    if args.anvil:
        from bitcoinzk.settlement.evm.anvil import DEV_KEYS, start_anvil

        node = start_anvil()
        client: EvmClient = open_client(node.url, DEV_KEYS[0])
    else:
        client = open_client(args.rpc)
    try:
        result = bench_settle(tuple(args.sizes), client)
        if not args.no_production:
            result.update(bench_production(production=PRODUCTION_SHAPE, client=client))
    finally:
        if node is not None:
            node.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
