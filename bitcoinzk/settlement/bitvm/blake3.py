"""BLAKE3 in Bitcoin Script over 4-bit limbs: how a chunk commits to its interface.

Tapscript has no OP_CAT, so it cannot hash the concatenation of stack items with
its hash opcodes, and no byte string a hash opcode returns can be turned back into
numbers (nothing but OP_EQUAL reads a digest), so a digest computed with OP_SHA256
can never be compared with a Winternitz-signed message, whose digits the script
sees as numbers.  The interface hash is therefore computed in arithmetic, as
BitVM2 does: BLAKE3's compression function on 32-bit words held as 8 nibbles
(4-bit stack items, least significant first):

- **xor**: a 256-entry table T[16 x + y] = x ^ y is pushed once per hash, with a
  16-entry table R[x] of the depths of T's rows; a nibble xor is R[x] (one OP_PICK),
  + y, and one OP_PICK into T;
- **rotations** by 16, 12 and 8 bits move whole nibbles: they only rename stack
  items at build time; by 7 = by 8, then 1 bit left (each nibble split at its top bit);
- **addition** mod 2^32: nibble sums with a carry.

`digest_script(layout)` hashes values already on the stack (Fq values as 9 limbs of
29 bits, small values as one number): each limb is one little-endian 32-bit word
of the message, so an Fq value is 36 bytes.  The mode is BLAKE3's chaining of
64-byte blocks within a chunk (counter 0, CHUNK_START on the first block,
CHUNK_END | ROOT on the last, the last block zero-padded with its true length):
for messages up to 1,024 bytes this *is* BLAKE3 (`hashlib`-free reference:
`blake3_hash`, checked against the published test vectors); longer messages keep
chaining blocks the same way (Merkle-Damgard over the compression function;
BLAKE3 would switch to its tree).  Every committed message has a length fixed by
its chunk layout, so a collision of two messages gives a collision of the
compression function.  The digest is the first 20 bytes, as BitVM2's.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from bitcoinzk.bitcoin.opcodes import Item, Op, Script, drop
from bitcoinzk.bitcoin.script import push_int

from . import fq
from .fq import LIMB_BITS, N_LIMBS

IV = (
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
    0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
)  # fmt: skip
MSG_PERMUTATION = (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)
CHUNK_START, CHUNK_END, ROOT = 1, 2, 8
DIGEST_WORDS = 5
"""20-byte digests (BitVM2 truncates BLAKE3 the same way)."""
NIBBLES = 8
MASK = 0xFFFFFFFF


# --- reference ---------------------------------------------------------------------------------


def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & MASK


def _g(v: list[int], a: int, b: int, c: int, d: int, mx: int, my: int) -> None:
    v[a] = (v[a] + v[b] + mx) & MASK
    v[d] = _rotr(v[d] ^ v[a], 16)
    v[c] = (v[c] + v[d]) & MASK
    v[b] = _rotr(v[b] ^ v[c], 12)
    v[a] = (v[a] + v[b] + my) & MASK
    v[d] = _rotr(v[d] ^ v[a], 8)
    v[c] = (v[c] + v[d]) & MASK
    v[b] = _rotr(v[b] ^ v[c], 7)


_G_ARGS = (
    (0, 4, 8, 12, 0, 1), (1, 5, 9, 13, 2, 3), (2, 6, 10, 14, 4, 5), (3, 7, 11, 15, 6, 7),
    (0, 5, 10, 15, 8, 9), (1, 6, 11, 12, 10, 11), (2, 7, 8, 13, 12, 13), (3, 4, 9, 14, 14, 15),
)  # fmt: skip


def _schedules() -> list[list[int]]:
    """Which message word each round reads in each position."""
    order, out = list(range(16)), []
    for _ in range(7):
        out.append(order)
        order = [order[i] for i in MSG_PERMUTATION]
    return out


def compress(cv: Sequence[int], block: Sequence[int], block_len: int, flags: int) -> list[int]:
    """The first 8 words of BLAKE3's compression (counter 0): the next chaining value."""
    v = [*cv, *IV[:4], 0, 0, block_len, flags]
    for sched in _schedules():
        for a, b, c, d, x, y in _G_ARGS:
            _g(v, a, b, c, d, block[sched[x]], block[sched[y]])
    return [v[i] ^ v[i + 8] for i in range(8)]


def _blocks(words: Sequence[int]) -> list[tuple[list[int], int, int]]:
    """(block words, block length in bytes, flags) of a message of 32-bit words."""
    chunks = [list(words[i : i + 16]) for i in range(0, len(words), 16)] or [[]]
    out = []
    for k, blk in enumerate(chunks):
        flags = (CHUNK_START if k == 0 else 0) | (CHUNK_END | ROOT if k == len(chunks) - 1 else 0)
        out.append((blk + [0] * (16 - len(blk)), 4 * len(blk), flags))
    return out


def hash_words(words: Sequence[int]) -> list[int]:
    """The digest words of a message of 32-bit words (see the module docstring)."""
    cv = list(IV)
    for blk, n, flags in _blocks(words):
        cv = compress(cv, blk, n, flags)
    return cv[:DIGEST_WORDS]


def blake3_hash(data: bytes) -> bytes:
    """BLAKE3 of up to 1,024 bytes (32-byte output): the reference the tests check
    against the published vectors."""
    if len(data) > 1024:
        raise ValueError("one BLAKE3 chunk at most")
    blocks = [data[i : i + 64] for i in range(0, len(data), 64)] or [b""]
    cv = list(IV)
    for k, blk in enumerate(blocks):
        padded = blk + bytes(64 - len(blk))
        words = [int.from_bytes(padded[4 * i : 4 * i + 4], "little") for i in range(16)]
        flags = (CHUNK_START if k == 0 else 0) | (CHUNK_END | ROOT if k == len(blocks) - 1 else 0)
        cv = compress(cv, words, len(blk), flags)
    return b"".join(w.to_bytes(4, "little") for w in cv)


FQ_WORDS = 8


def value_words(value: int, small: bool) -> list[int]:
    """A value's message words: a small value is one word; an Fq value is 32 bytes,
    most significant word first (the order Script peels its bits in)."""
    if small:
        return [value]
    return [(value >> (32 * w)) & MASK for w in reversed(range(FQ_WORDS))]


def digest(values: Sequence[tuple[int, bool]]) -> list[int]:
    """Digest words of (value, is_small) pairs, in order."""
    return hash_words([w for v, s in values for w in value_words(v, s)])


def digest_nibbles(words: Sequence[int]) -> list[int]:
    """The digest as nibbles, least significant nibble of word 0 first."""
    return [(w >> (4 * k)) & 15 for w in words for k in range(NIBBLES)]


# --- script ------------------------------------------------------------------------------------


class _T:
    """Stack model with named items (like `fq._Tracker`, with a name -> position map so
    deep stacks stay fast)."""

    def __init__(self, items: Sequence[str]) -> None:
        self.stack: list[str] = list(items)
        self.pos = {n: i for i, n in enumerate(self.stack)}
        self.parts: list[Item] = []

    def depth(self, name: str) -> int:
        return len(self.stack) - 1 - self.pos[name]

    def _push_name(self, name: str) -> None:
        self.pos[name] = len(self.stack)
        self.stack.append(name)

    def _pop_name(self) -> str:
        name = self.stack.pop()
        del self.pos[name]
        return name

    def push(self, value: int, name: str) -> None:
        self.parts.append(value)
        self._push_name(name)

    def pick(self, name: str, new: str) -> None:
        d = self.depth(name)
        self.parts += [Op.OP_DUP] if d == 0 else [Op.OP_OVER] if d == 1 else [d, Op.OP_PICK]
        self._push_name(new)

    def roll(self, name: str) -> None:
        d = self.depth(name)
        if d == 0:
            return
        self.parts += [Op.OP_SWAP] if d == 1 else [Op.OP_ROT] if d == 2 else [d, Op.OP_ROLL]
        i = self.pos[name]
        del self.stack[i]
        self.stack.append(name)
        if d > 40:
            self.pos = {n: k for k, n in enumerate(self.stack)}
        else:
            for k in range(i, len(self.stack)):
                self.pos[self.stack[k]] = k

    def op(self, ops: Sequence[Item], pops: int, pushes: Sequence[str]) -> None:
        self.parts += list(ops)
        for _ in range(pops):
            self._pop_name()
        for n in pushes:
            self._push_name(n)

    def rename(self, old: str, new: str) -> None:
        i = self.pos.pop(old)
        self.stack[i] = new
        self.pos[new] = i

    def script(self) -> Script:
        return Script(*self.parts)


_fresh = iter(range(1 << 62))


def _new() -> str:
    return f"n{next(_fresh)}"


Word = list[str]  # nibble names, least significant first


def _xor_rows() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The lookup table T as one sequence, and where each xor row starts in it.

    T[s] = s mod 16 for s < 48 (the first 48 entries: a nibble sum of up to three
    nibbles and a carry reduced by one OP_PICK), and every row x ^ 0 .. x ^ 15 as a
    window.  Rows overlap: the second half of row x is the first half of row x ^ 8, the
    last 4 entries of row x start row x ^ 12, the last 2 row x ^ 14, the last one row
    x ^ 15; chaining rows by those overlaps (8, 4, 8 within each class of x mod 4, then
    2, 1, 2 between the classes) takes 171 entries instead of 256, and row 0 (the
    identity) is the last third of the mod-16 run: 203 items in all."""
    seq: list[int] = list(range(16)) * 2
    starts = [0] * 16
    for x in (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15):
        row = [x ^ y for y in range(16)]
        k = next(k for k in (8, 4, 2, 1, 0) if k <= len(seq) and seq[len(seq) - k :] == row[:k])
        starts[x] = len(seq) - k
        seq += row[k:]
    if any(seq[starts[x] + y] != x ^ y for x in range(16) for y in range(16)):
        raise AssertionError("xor rows")
    if any(seq[j] != j % 16 for j in range(48)):
        raise AssertionError("mod 16 run")
    return tuple(seq), tuple(starts)


XOR_SEQ, XOR_STARTS = _xor_rows()
TABLE_ITEMS = len(XOR_SEQ) + 16
"""The xor table T (overlapping rows) and the row table R above it."""


class _Rows:
    """R[x] = base + XOR_STARTS[x]: the depth of row x of T at a lookup, so a nibble xor
    is R[x] + y and one OP_PICK.  `base` is where T sits at most lookups (the stack above
    it barely changes within a compression); `seen` collects what each lookup needed."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.seen: list[int] = []


def _xor(t: _T, d: Word, a: Word, rows: _Rows) -> Word:
    """d ^ a nibble by nibble (d consumed, a kept)."""
    out = []
    for dk, ak in zip(d, a, strict=True):
        t.roll(dk)
        t.op([t.depth("R0") - 1, Op.OP_ADD, Op.OP_PICK], 1, ["row"])  # R[x]
        t.pick(ak, "y")
        t.op([Op.OP_ADD], 2, ["idx"])
        need = t.depth("T0") - 1  # T[j] sits j items below T0; PICK pops idx first
        rows.seen.append(need)
        name = _new()
        delta = need - rows.base
        t.op([*([delta, Op.OP_ADD] if delta else []), Op.OP_PICK], 1, [name])
        out.append(name)
    return out


def _mod16(t: _T, name: str) -> None:
    """[s] -> [s mod 16] for s < 48: T's first 48 entries are s mod 16."""
    t.op([t.depth("T0") - 1, Op.OP_ADD, Op.OP_PICK], 1, [name])


def _add(t: _T, c: Word, d: Word) -> Word:
    """c + d mod 2^32 (c consumed, d kept)."""
    out = []
    for k, (ck, dk) in enumerate(zip(c, d, strict=True)):
        t.roll(ck)
        t.pick(dk, "y")
        t.op([Op.OP_ADD], 2, ["s"])
        if k:
            t.roll("carry")
            t.op([Op.OP_ADD], 2, ["s"])
        name = _new()
        if k < NIBBLES - 1:
            t.op(
                [Op.OP_DUP, 16, Op.OP_GREATERTHANOREQUAL, Op.OP_TUCK,
                 Op.OP_IF, 16, Op.OP_SUB, Op.OP_ENDIF],
                1, ["carry", name],
            )  # fmt: skip
        else:  # no carry out: the sum's nibble by lookup
            _mod16(t, name)
        out.append(name)
    return out


def _add3(t: _T, c: Word, d: Word, m: Word) -> Word:
    """c + d + m mod 2^32 (c consumed, d and m kept): one pass; a nibble sum (at most
    15 + 15 + 15 + 2) gives its carry (0, 1 or 2) by two compares and its nibble by
    one lookup in T, instead of two passes that each roll and normalise every nibble."""
    out = []
    for k, (ck, dk, mk) in enumerate(zip(c, d, m, strict=True)):
        t.roll(ck)
        t.pick(dk, "y")
        t.op([Op.OP_ADD], 2, ["s"])
        t.pick(mk, "y")
        t.op([Op.OP_ADD], 2, ["s"])
        if k:
            t.roll("carry")
            t.op([Op.OP_ADD], 2, ["s"])
        name = _new()
        if k < NIBBLES - 1:
            t.op([Op.OP_DUP, 16, Op.OP_GREATERTHANOREQUAL, Op.OP_OVER, 32,
                  Op.OP_GREATERTHANOREQUAL, Op.OP_ADD, Op.OP_SWAP], 1, ["carry", "s"])  # fmt: skip
        _mod16(t, name)
        out.append(name)
    return out


def _rotr_nibbles(w: Word, n: int) -> Word:
    """Rotation right by 4 n bits: renaming only."""
    return [w[(k + n) % NIBBLES] for k in range(NIBBLES)]


def _xor_rotr7(t: _T, d: Word, a: Word, rows: _Rows) -> Word:
    """(d ^ a) rotated right by 7 (d consumed, a kept): by 8 (renaming), then left by
    1.  Each xor nibble u_k is split as it comes out into its top bit h_k and twice its
    low three bits, and r_k = 2 l_k + h_{k-1} is formed at once (h_{k-1} lies two items
    down), so no nibble is moved twice; r_0 waits for h_7."""
    u = [(k + 2) % NIBBLES for k in range(NIBBLES)]  # u_k is xor nibble u[k]
    out: list[str] = []
    first = ""
    for k in range(NIBBLES):
        _xor(t, [d[u[k]]], [a[u[k]]], rows)  # u_k on top
        h, low = f"h{k}", _new()
        t.op([Op.OP_DUP, 8, Op.OP_GREATERTHANOREQUAL, Op.OP_TUCK,
              Op.OP_IF, 8, Op.OP_SUB, Op.OP_ENDIF, Op.OP_DUP, Op.OP_ADD], 1, [h, low])  # fmt: skip
        if k == 0:
            first = low
            continue
        t.roll(f"h{k - 1}")
        name = _new()
        t.op([Op.OP_ADD], 2, [name])
        out.append(name)
    t.roll(first)
    t.roll("h7")
    name = _new()
    t.op([Op.OP_ADD], 2, [name])
    return [name, *out]


def _add_msg(t: _T, c: Word, d: Word, m: Word | None) -> Word:
    """c + d + m, where a message word past the block's data (m None) is zero."""
    return _add(t, c, d) if m is None else _add3(t, c, d, m)


def _g_script(
    t: _T,
    v: list[Word],
    rows: _Rows,
    a: int,
    b: int,
    c: int,
    d: int,
    mx: Word | None,
    my: Word | None,
) -> None:
    v[a] = _add_msg(t, v[a], v[b], mx)
    v[d] = _rotr_nibbles(_xor(t, v[d], v[a], rows), 4)
    v[c] = _add(t, v[c], v[d])
    v[b] = _rotr_nibbles(_xor(t, v[b], v[c], rows), 3)
    v[a] = _add_msg(t, v[a], v[b], my)
    v[d] = _rotr_nibbles(_xor(t, v[d], v[a], rows), 2)
    v[c] = _add(t, v[c], v[d])
    v[b] = _xor_rotr7(t, v[b], v[c], rows)


def _word_names(prefix: str) -> Word:
    return [f"{prefix}.{k}" for k in range(NIBBLES)]


def _nibbles(x: int) -> list[int]:
    return [(x >> (4 * k)) & 15 for k in range(NIBBLES)]


def _stack_names(words: Sequence[Word]) -> list[str]:
    """Stack order of words (bottom first): word 0 deepest, each word's nibble 7 deepest."""
    return [n for w in words for n in reversed(w)]


@cache
def row_base() -> int:
    """The T depth most lookups of a compression need (R's entries are built on it)."""
    rows = _Rows(0)
    _compress(64, 0, rows)
    return max(set(rows.seen), key=rows.seen.count)


@cache
def compress_script(block_len: int, flags: int) -> Script:
    """[T, R, cv (8 words), m (the block's ceil(block_len / 4) words)] -> [T, R, cv']
    (T: the xor table, `XOR_SEQ`, R: its row depths, 16; words as nibbles, word 0
    deepest, most significant nibble of each word deepest).  The zero words padding
    the block are on the stack as ballast (so T sits at the depth R was built for) but
    are never added: a + b + 0 is a two-operand addition."""
    return _compress(block_len, flags, _Rows(row_base()))


def _compress(block_len: int, flags: int, rows: _Rows) -> Script:
    cv = [_word_names(f"cv{i}") for i in range(8)]
    n_words = -(-block_len // 4)
    m: list[Word | None] = [_word_names(f"m{i}") for i in range(n_words)]
    m += [None] * (16 - n_words)  # zero padding: no additions of these
    table = [f"T{j}" for j in reversed(range(len(XOR_SEQ)))]
    table += [f"R{j}" for j in reversed(range(16))]
    # the padding words' places hold ballast (zeros), so T sits at the depth R assumes
    ballast = [_word_names(f"z{i}") if w is None else w for i, w in enumerate(m)]
    t = _T([*table, *_stack_names(cv), *_stack_names(ballast)])
    v: list[Word] = list(cv)
    for i, const in enumerate((*IV[:4], 0, 0, block_len, flags)):
        w = _word_names(f"c{i}")
        for k in reversed(range(NIBBLES)):
            t.push(_nibbles(const)[k], w[k])
        v.append(w)
    for sched in _schedules():
        for a, b, c, d, x, y in _G_ARGS:
            _g_script(t, v, rows, a, b, c, d, m[sched[x]], m[sched[y]])
    out = [_xor(t, v[i], v[i + 8], rows) for i in range(8)]
    # drop everything but T and the new chaining value, which goes on top in order
    keep = set(_stack_names(out))
    for w in out:
        for n in reversed(w):
            t.roll(n)
    n_out = NIBBLES * 8
    for _ in range(n_out):
        t.op([Op.OP_TOALTSTACK], 1, [])
    junk = len(t.stack) - TABLE_ITEMS
    if any(n in keep for n in t.stack[TABLE_ITEMS:]):
        raise AssertionError("chaining value lost")
    t.op([drop(junk)], junk, [])
    t.parts += [Op.OP_FROMALTSTACK] * n_out
    return t.script()


@cache
def table_script() -> Script:
    """Push T (`XOR_SEQ`, entry 0 nearest the top), then R[x] (R[0] on top)."""
    base = row_base()
    return Script(*reversed(XOR_SEQ), *[base + XOR_STARTS[x] for x in reversed(range(16))])


def _limb_to_nibbles(bits: int) -> list[Item]:
    """[limb] -> [nibble 7 .. nibble 0] (nibble 0 on top), limb < 2^bits, peeled from
    the top bit down (the limb is a canonical value's limb: no range check needed)."""
    parts: list[Item] = []
    n_nib = -(-bits // 4)
    for j in reversed(range(NIBBLES)):
        if j >= n_nib:
            parts += [0, Op.OP_SWAP]  # a zero nibble under the rest
            continue
        if j == 0:
            # [x] with x < 16: the nibble itself
            break
        parts += [0, Op.OP_SWAP]
        for b in reversed(range(4 * j, min(4 * j + 4, bits))):
            parts += fq.peel(1 << b, 1 << (b - 4 * j))
        # [.., acc_j, rest]: acc_j stays, rest goes on
    return parts


@cache
def _limb_script(bits: int) -> Script:
    return Script(*_limb_to_nibbles(bits))


@cache
def _small_word_script() -> Script:
    """A small value (one witness item) is range-checked before it is cut: outside
    [0, 2^29) two items could give the same nibbles."""
    check = Script(Op.OP_DUP, 0, fq.BASE, Op.OP_WITHIN, Op.OP_VERIFY)
    return check + _limb_script(LIMB_BITS)


def digest_halves(words: Sequence[int]) -> list[int]:
    """A digest as 10 numbers of 16 bits (what a witness carries), bottom of the stack
    first: high half of word 0, low half of word 0, .., low half of word 4 on top."""
    return [h for w in words for h in (w >> 16, w & 0xFFFF)]


@cache
def halves_script() -> Script:
    """[40 digest nibbles] -> [10 halves] (as `digest_halves`)."""
    parts: list[Item] = []
    for _ in range(2 * DIGEST_WORDS):  # top four nibbles: a half, to the altstack
        for shift in (4, 8, 12):
            parts += [Op.OP_SWAP, *[Op.OP_DUP, Op.OP_ADD] * shift, Op.OP_ADD]
        parts.append(Op.OP_TOALTSTACK)
    parts += [Op.OP_FROMALTSTACK] * (2 * DIGEST_WORDS)
    return Script(*parts)


@cache
def equal_halves_script() -> Script:
    """[computed 10 halves, claimed 10 halves] -> [], fails unless equal."""
    n = 2 * DIGEST_WORDS
    return Script(*[x for k in range(n, 0, -1) for x in (k, Op.OP_ROLL, Op.OP_NUMEQUALVERIFY)])


HASH_PEAK = TABLE_ITEMS + 2 * 16 * NIBBLES + 8
"""Stack items the hashing needs above everything else (table, state, message block)."""


def _first_bit(k: int, weight: int) -> list[Item]:
    """[x] -> [acc, x - k] with acc = weight if x >= k, else [0, x]: the top bit of a new
    nibble starts its accumulator (no 0 pushed and swapped under x first)."""
    if len(push_int(k)) > 2:
        return [k, Op.OP_2DUP, Op.OP_GREATERTHANOREQUAL, Op.OP_IF, Op.OP_SUB, weight,
                Op.OP_ELSE, Op.OP_DROP, 0, Op.OP_ENDIF, Op.OP_SWAP]  # fmt: skip
    return [Op.OP_DUP, k, Op.OP_GREATERTHANOREQUAL, Op.OP_IF, k, Op.OP_SUB, weight,
            Op.OP_ELSE, 0, Op.OP_ENDIF, Op.OP_SWAP]  # fmt: skip


def _fq_nibbles(depth: int) -> list[Item]:
    """[x (9 limbs, limb 0 `depth` items down)] -> [.., 64 nibbles of x, most significant
    first]: bits peeled from the top of copies of the limbs, each into its nibble, so
    nibbles straddling two limbs cost nothing extra.  (Canonical limbs: a limb copy is
    exhausted exactly at its bit 0.)"""
    parts: list[Item] = [0]  # the accumulator of nibble 63 (bits 255, 254 are zero)
    above = 1  # items pushed above the value's top so far
    fresh = False  # the next bit starts a nibble
    for i in reversed(range(N_LIMBS)):
        parts += [depth + i + above, Op.OP_PICK]
        top = LIMB_BITS - 1 if i < N_LIMBS - 1 else 253 - LIMB_BITS * i
        for t in reversed(range(top + 1)):
            b = LIMB_BITS * i + t
            weight = b % 4
            if fresh:  # the nibble's accumulator starts at this bit
                if t:
                    parts += _first_bit(1 << t, 1 << weight)
                else:  # the copy is bit 0 of the limb: it becomes the accumulator
                    parts += [Op.OP_DUP, Op.OP_ADD] * weight
                above += 1
                fresh = False
            elif t:
                parts += fq.peel(1 << t, 1 << weight)
            else:  # what is left of the copy is bit 0 of the limb
                parts += [Op.OP_DUP, Op.OP_ADD] * weight + [Op.OP_ADD]
            if weight == 0 and b:  # nibble done, the next one starts under the copy
                fresh = True
    return parts


@cache
def _fq_nibbles_script(depth: int) -> Script:
    return Script(*_fq_nibbles(depth))


def digest_script(layout: Sequence[bool], depth: int) -> Script:
    """Hash values on the stack and leave the 40 digest nibbles on top (word 0 deepest,
    each word's most significant nibble deepest), the values untouched.

    `layout`: is_small for each value, in hashing order, Fq values first (so each
    starts a half block); the values sit contiguous (first value deepest) with the
    top of the last one `depth` items below the top."""
    if list(layout) != sorted(layout):
        raise ValueError("Fq values come before small values")
    sizes = [1 if s else N_LIMBS for s in layout]
    # (depth of the value's top item below the values' top, is_small)
    below, where = sum(sizes), []
    for size, small in zip(sizes, layout, strict=True):
        below -= size
        where.append((below, small))
    n_words = sum(1 if s else FQ_WORDS for s in layout)
    parts: list[Item] = [table_script()]
    above = depth + TABLE_ITEMS  # items above the values' top
    for const in IV:
        parts += [Script(*reversed(_nibbles(const)))]
    above += 64
    pending = list(where)
    for _, n, flags in _blocks(list(range(n_words))):
        words = 0
        while pending and words < n // 4:
            d, small = pending.pop(0)
            if small:
                parts += [d + above, Op.OP_PICK, _small_word_script()]
                words += 1
            else:
                parts.append(_fq_nibbles_script(d + above))
                words += FQ_WORDS
            above += NIBBLES * (1 if small else FQ_WORDS)
        if words != n // 4:
            raise AssertionError("an Fq value across two blocks")
        parts += [0] * (NIBBLES * (16 - words))  # ballast where the zero padding goes
        parts.append(compress_script(n, flags))
        above -= NIBBLES * words  # the block is consumed
    # keep the first 5 words: drop words 7..5 (on top), then the table under the digest
    parts.append(drop(NIBBLES * (8 - DIGEST_WORDS)))
    n_dig = NIBBLES * DIGEST_WORDS
    parts += [Op.OP_TOALTSTACK] * n_dig + [drop(TABLE_ITEMS)] + [Op.OP_FROMALTSTACK] * n_dig
    return Script(*parts)
