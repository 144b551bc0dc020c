"""bitcoinzk: a Bitcoin Layer-2 ZK rollup."""

__version__ = "0.1.0"
