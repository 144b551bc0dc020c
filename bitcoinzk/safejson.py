"""JSON parsing for input the process does not control: nesting is bounded before parsing.

The standard parser recurses once per nested array or object, on the C stack.
py_ecc and eth-* raise Python's recursion limit to 100000 when imported, so a
140 KB body of nested `[` overflows the C stack and kills the process (SIGSEGV)
long before a RecursionError could be raised.  `loads` therefore measures the
nesting depth first, with a linear scan that recurses nowhere, and refuses
anything deeper than `MAX_DEPTH` whatever the recursion limit is.

Every parse of bytes from a socket, a peer or a user-supplied file goes through
`loads`; `json.loads` stays only for data this process wrote itself.  This
module imports nothing from the project, so any layer may use it.
"""

from __future__ import annotations

import json
import math
import re
from array import array
from collections.abc import Callable
from itertools import accumulate
from pathlib import Path
from typing import Any

MAX_DEPTH = 64
"""Deeper than anything the project exchanges (a verbose Bitcoin block is 6 levels)."""

# A JSON string, escapes included. The closing quote is optional so that an
# unterminated string is consumed to the end in one match: every match is
# linear and no start position is ever retried (no quadratic backtracking).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
# Opening brackets become +1, closing ones -1 (0xFF as a signed byte).
_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


class JSONDepthError(ValueError):
    """The document nests arrays/objects deeper than allowed."""


def nesting_depth(data: bytes) -> int:
    """The deepest array/object nesting of a UTF-8 JSON text (brackets inside strings don't
    count). Exact for valid JSON; never less than what the parser would reach on invalid
    JSON, because the parser stops at the first error and this scan counts every bracket
    up to the end."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", data))
    # The running sum of +1/-1 steps is the depth after each bracket; C loops only.
    return max(accumulate(array("b", brackets.translate(_STEP)), initial=0))


def _check_depth(raw: bytes, max_depth: int) -> None:
    # Fast path for the common small request: depth cannot exceed the number of openers.
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return
    depth = nesting_depth(raw)
    if depth > max_depth:
        raise JSONDepthError(f"JSON nested {depth} levels deep (at most {max_depth})")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} overflows a float")
    return value


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259) and no amount or index may be one.
    raise ValueError(f"{name} is not a JSON number")


def _utf8(data: str | bytes | bytearray | memoryview) -> tuple[str, bytes]:
    if isinstance(data, str):
        # surrogatepass: a lone surrogate is the parser's to reject, not an encoder crash.
        return data, data.encode("utf-8", "surrogatepass")
    raw = bytes(data)
    # RFC 8259 §8.1: JSON exchanged between systems is UTF-8. Decoding here (rather than
    # letting json guess UTF-16/32) also keeps the byte scan above meaningful.
    return raw.decode("utf-8-sig"), raw


def loads(
    data: str | bytes | bytearray | memoryview,
    *,
    max_depth: int = MAX_DEPTH,
    parse_float: Callable[[str], Any] | None = None,
) -> Any:
    """`json.loads` for untrusted input. Raises ValueError (JSONDepthError,
    json.JSONDecodeError, UnicodeDecodeError, or a plain ValueError for NaN, Infinity
    and integers over Python's 4300-digit limit) for anything it refuses."""
    text, raw = _utf8(data)
    _check_depth(raw, max_depth)
    return json.loads(text, parse_float=parse_float or _finite, parse_constant=_no_constant)


def load_path(path: Path | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """`loads` of a file's contents (configuration, keys, genesis supplied by a user)."""
    return loads(Path(path).read_bytes(), max_depth=max_depth)


__all__ = ["MAX_DEPTH", "JSONDepthError", "load_path", "loads", "nesting_depth"]
