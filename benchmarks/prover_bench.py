"""Proving benchmark for the batch circuit; the last line printed is one JSON object.

    python benchmarks/prover_bench.py --batch-size 4 --tree-depth 24 [--compare]

Same as `bzk bench prove`. Keys are cached under $BZK_KEY_DIR (default
~/.cache/bitcoinzk/keys): the first run at a size also pays the Groth16 setup.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bitcoinzk.bench.prover import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--tree-depth", type=int, default=24)
    parser.add_argument("--records", type=int, default=None, help="record slots (default B/16)")
    parser.add_argument("--compare-snarkjs", action="store_true")
    parser.add_argument("--backend", choices=["native", "groth16py"], default=None)
    parser.add_argument(
        "--compare", action="store_true", help="native: same witness by groth16py and snarkjs"
    )
    parser.add_argument("--key-dir", type=Path, default=None)
    parser.add_argument(
        "--no-node", action="store_true", help="skip circom2/snarkjs (no witness/proof split)"
    )
    args = parser.parse_args()
    result = run(
        batch_size=args.batch_size,
        tree_depth=args.tree_depth,
        compare_snarkjs=args.compare_snarkjs,
        records=args.records,
        key_dir=args.key_dir,
        use_node=not args.no_node,
        backend=args.backend,
        compare=args.compare,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
