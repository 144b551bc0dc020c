"""Relay policy: what a Bitcoin Core node refuses to relay even when consensus allows it.

Consensus is libbitcoinkernel's; these are the standardness rules of
Bitcoin Core's `policy/policy.cpp` that matter for us, with Core's values.
"""

from __future__ import annotations

from .script import Op
from .tx import Tx, TxOut

MAX_STANDARD_TX_WEIGHT = 400_000
MIN_STANDARD_TX_NONWITNESS_SIZE = 65
MAX_STANDARD_SCRIPTSIG_SIZE = 1650
MAX_OP_RETURN_RELAY = 83  # bytes of scriptPubKey, Core's historical -datacarriersize
DUST_RELAY_FEE = 3  # sat/vB
MIN_RELAY_FEE = 1  # sat/vB (1000 sat/kvB)
COINBASE_MATURITY = 100


class PolicyError(Exception):
    """A transaction that is valid by consensus but not standard."""


def output_type(spk: bytes) -> str:
    """Classify a scriptPubKey the way Core's `Solver` does, for the types we relay."""
    n = len(spk)
    if n == 25 and spk[:3] == b"\x76\xa9\x14" and spk[23:] == b"\x88\xac":
        return "pubkeyhash"
    if n == 23 and spk[:2] == b"\xa9\x14" and spk[22] == 0x87:
        return "scripthash"
    if n == 22 and spk[:2] == b"\x00\x14":
        return "witness_v0_keyhash"
    if n == 34 and spk[:2] == b"\x00\x20":
        return "witness_v0_scripthash"
    if n == 34 and spk[:2] == bytes([Op.OP_1, 32]):
        return "witness_v1_taproot"
    if n == 4 and spk == bytes.fromhex("51024e73"):
        return "anchor"
    if 4 <= n <= 42 and (Op.OP_1 < spk[0] <= Op.OP_1 + 15 or spk[0] == Op.OP_1) and spk[1] == n - 2:
        return "witness_unknown"
    if n >= 1 and spk[0] == Op.OP_RETURN:
        return "nulldata"
    return "nonstandard"


def dust_threshold(out: TxOut) -> int:
    """Core's GetDustThreshold: the cost at 3 sat/vB of creating and spending the output."""
    if out.script_pubkey[:1] == bytes([Op.OP_RETURN]):
        return 0
    size = len(out.serialize())
    spk = out.script_pubkey
    is_witness = (
        len(spk) >= 4
        and (spk[0] == Op.OP_0 or Op.OP_1 <= spk[0] <= Op.OP_1 + 15)
        and spk[1] == len(spk) - 2
    )
    size += 32 + 4 + 1 + (107 // 4) + 4 if is_witness else 32 + 4 + 1 + 107 + 4
    return size * DUST_RELAY_FEE


def _is_push_only(script: bytes) -> bool:
    i = 0
    while i < len(script):
        op = script[i]
        i += 1
        if op > 0x60:
            return False
        if 0 < op < 0x4C:
            i += op
        elif op == 0x4C:
            i += 1 + (script[i] if i < len(script) else 0)
        elif op == 0x4D:
            i += 2 + int.from_bytes(script[i : i + 2], "little")
        elif op == 0x4E:
            i += 4 + int.from_bytes(script[i : i + 4], "little")
    return i == len(script)


def check_standard(tx: Tx) -> None:
    """Raise `PolicyError` for a non-standard transaction (Core's IsStandardTx)."""
    if not 1 <= tx.version <= 3:
        raise PolicyError("version")
    if tx.weight > MAX_STANDARD_TX_WEIGHT:
        raise PolicyError("tx-size")
    if len(tx.serialize(with_witness=False)) < MIN_STANDARD_TX_NONWITNESS_SIZE:
        raise PolicyError("tx-size-small")
    for txin in tx.vin:
        if len(txin.script_sig) > MAX_STANDARD_SCRIPTSIG_SIZE:
            raise PolicyError("scriptsig-size")
        if not _is_push_only(txin.script_sig):
            raise PolicyError("scriptsig-not-pushonly")
    n_data = 0
    for out in tx.vout:
        kind = output_type(out.script_pubkey)
        if kind == "nonstandard":
            raise PolicyError("scriptpubkey")
        if kind == "nulldata":
            n_data += 1
            if len(out.script_pubkey) > MAX_OP_RETURN_RELAY:
                raise PolicyError("scriptpubkey")
        elif out.value < dust_threshold(out):
            raise PolicyError("dust")
    if n_data > 1:
        raise PolicyError("multi-op-return")
