"""Bridge and embedded-node figures; the last line printed is one JSON object.

Run: `python benchmarks/bitcoin_bridge.py` (what `bzk bench bridge --json` prints).
"""

from __future__ import annotations

import json

from bitcoinzk.bench.bridge import run

if __name__ == "__main__":
    print(json.dumps(run()))
