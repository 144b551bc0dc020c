"""BitVM game and Gold DA figures; the last line is one JSON object.

    python benchmarks/bitvm_bench.py [--bits 32|64] [--circuit FILE.txt]

(`bzk bench bitvm --json` calls the same `bitcoinzk.bench.bitvm.run_bench`.)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bitcoinzk.bench.bitvm import run_bench


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", type=int, default=32)
    ap.add_argument("--circuit", type=Path, default=None)
    args = ap.parse_args()
    print(json.dumps(run_bench(circuit_file=args.circuit, bits=args.bits)))


if __name__ == "__main__":
    main()
