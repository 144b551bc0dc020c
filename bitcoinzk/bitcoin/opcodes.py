"""A Bitcoin Script builder: opcodes by name, minimal pushes, script numbers.

The opcode table (`Op`), pushes and script numbers are the bitcoin package's
(`push_data`, `push_int`: BIP-62 minimal encodings, which tapscript's MINIMALDATA
requires); this module adds a composable `Script` value and a tokenizer.  Whether a
script succeeds is never decided here: libbitcoinkernel runs every script.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Union

from bitcoinzk.bitcoin.encoding import DecodeError
from bitcoinzk.bitcoin.script import Op as Op  # the one opcode table, re-exported
from bitcoinzk.bitcoin.script import push_data, push_int

MAX_SCRIPT_ELEMENT_SIZE = 520
"""Consensus limit on one pushed element (and on every stack element)."""

MAX_STACK_SIZE = 1000
"""Consensus limit on stack + altstack items, the initial witness stack included."""

MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE = 80
"""Relay policy: a tapscript witness item (other than script and control block) above
this is non-standard (Core's policy.h)."""


OP_FALSE = Op.OP_0
OP_TRUE = Op.OP_1

Item = Union[Op, int, bytes, "Script"]
"""What a `Script` is built from: an opcode, a script number, a data push, a script."""


class Script:
    """An immutable sequence of script bytes, built from opcodes, numbers and pushes.

    >>> bytes(Script(Op.OP_DUP, 5, b"\\xab", Op.OP_EQUAL)).hex()
    '765501ab87'

    `int` items are script numbers (`OP_0`, `OP_1`..`OP_16`, `OP_1NEGATE`, else
    a minimal CScriptNum push); `bytes` items are minimal data pushes.
    """

    __slots__ = ("_raw",)

    def __init__(self, *items: Item) -> None:
        self._raw = b"".join(_encode(i) for i in items)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Script:
        s = cls()
        s._raw = bytes(raw)
        return s

    @classmethod
    def join(cls, parts: Iterable[Item]) -> Script:
        return cls(*parts)

    def __add__(self, other: Script) -> Script:
        return Script.from_bytes(self._raw + other._raw)

    def __mul__(self, n: int) -> Script:
        return Script.from_bytes(self._raw * n)

    def __bytes__(self) -> bytes:
        return self._raw

    def __len__(self) -> int:
        return len(self._raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Script) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"Script({disassemble(self._raw)})"


def _encode(item: Item) -> bytes:
    if isinstance(item, Script):
        return bytes(item)
    if isinstance(item, Op):
        return bytes([item])
    if isinstance(item, int):
        return push_int(item)
    if len(item) > MAX_SCRIPT_ELEMENT_SIZE:
        raise ValueError(f"push of {len(item)} bytes exceeds {MAX_SCRIPT_ELEMENT_SIZE}")
    return push_data(item)


def drop(n: int) -> Script:
    """Remove the top `n` stack items (OP_2DROP pairs, then one OP_DROP)."""
    return Script(*([Op.OP_2DROP] * (n // 2) + [Op.OP_DROP] * (n % 2)))


def iter_script(raw: bytes) -> Iterator[int | bytes]:
    """Tokens of a script: an `int` opcode, or the `bytes` of a data push.

    Raises `DecodeError` on a push that runs past the end (a script that can
    never execute, which a reader of hostile data must expect).
    """
    i, n = 0, len(raw)
    while i < n:
        op = raw[i]
        i += 1
        if op == 0 or op > Op.OP_PUSHDATA4:
            yield b"" if op == 0 else op
            continue
        if op < Op.OP_PUSHDATA1:
            size = op
        else:
            width = {Op.OP_PUSHDATA1: 1, Op.OP_PUSHDATA2: 2, Op.OP_PUSHDATA4: 4}[Op(op)]
            if i + width > n:
                raise DecodeError("truncated push length")
            size = int.from_bytes(raw[i : i + width], "little")
            i += width
        if i + size > n:
            raise DecodeError("push past the end of the script")
        yield raw[i : i + size]
        i += size


def disassemble(raw: bytes) -> str:
    out = []
    try:
        for tok in iter_script(raw):
            if isinstance(tok, bytes):
                out.append(tok.hex() if tok else "OP_0")
            else:
                out.append(Op(tok).name if tok in Op._value2member_map_ else f"0x{tok:02x}")
    except DecodeError:
        out.append("[error]")
    return " ".join(out)
