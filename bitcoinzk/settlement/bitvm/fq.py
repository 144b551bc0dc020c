"""BN254 base-field (Fq) arithmetic in Bitcoin Script.

Tapscript arithmetic works on signed numbers of at most 4 bytes (|x| < 2^31) and
has no OP_MUL, so a 254-bit field element is held as 9 limbs of 29 bits, least
significant limb on top of the stack:

    stack (bottom .. top):  x_8  x_7 .. x_1  x_0       x = sum x_i * 2^(29 i)

Two limbs and a carry add up to less than 2^31, which is what 29 bits buys.
Every value a script leaves is canonical (each limb in [0, 2^29), value < p),
so equality is limb-wise equality.

Multiplication (`mul_script`, `lc_script`): the prover hints the quotient q of
sum a_j b_j = q p + r, and the script checks sum a_j b_j + q (2^260 - p) = q 2^260 + r
once, exactly, in 20 columns of 26 bits, with one carry pass per 3-bit window
position inside the 26-bit blocks (9 passes) instead of one per window (86); r is
never hinted, it is what is left.  The earlier Horner form over windows of b and q
(`mul_horner_script`, `lc_horner_script`) and the hint-free double-and-add
(`mul_plain_script`) are kept to measure against: see docs/bitvm.md.

Scripts here are fragments with a fixed stack effect on their operands at the
top of the stack; what is below is never touched.  Whether they succeed is
libbitcoinkernel's decision (tests/settlement/bitvm/test_fq.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from itertools import pairwise

from bitcoinzk.bitcoin.opcodes import Item, Op, Script, drop, iter_script
from bitcoinzk.bitcoin.script import push_int, script_num

P = 21888242871839275222246405745257275088696311157297823662689037894645226208583
"""The BN254 base-field modulus."""

LIMB_BITS = 29
N_LIMBS = 9
BASE = 1 << LIMB_BITS
WINDOW = 3
"""Window width of the Horner form (`mul_horner_script`).  4 makes it ~9% smaller but its
two tables take 288 stack items instead of 144 (docs/bitvm.md)."""


def to_limbs(x: int) -> list[int]:
    """Little-endian 29-bit limbs of 0 <= x < 2^261."""
    if not 0 <= x < 1 << (LIMB_BITS * N_LIMBS):
        raise ValueError("value out of range for 9 limbs")
    return [(x >> (LIMB_BITS * i)) & (BASE - 1) for i in range(N_LIMBS)]


def from_limbs(limbs: Sequence[int]) -> int:
    return sum(v << (LIMB_BITS * i) for i, v in enumerate(limbs))


def witness_items(x: int) -> list[bytes]:
    """x as witness stack items, bottom first (most significant limb deepest)."""
    return [script_num(v) for v in reversed(to_limbs(x))]


def push_script(x: int) -> Script:
    """Push the constant x (canonical limbs, least significant last)."""
    return Script(*reversed(to_limbs(x)))


def mul_hint(a: int, b: int) -> int:
    """The quotient the prover supplies for `mul_script`."""
    return (a * b) // P


def lc_hint(*pairs: tuple[int, int]) -> int:
    """The quotient for `lc_script`: floor(sum a_j b_j / p)."""
    return sum(a * b for a, b in pairs) // P


# --- carry helpers ---------------------------------------------------------------------------


def _carry_to_alt() -> Script:
    """[x] with 0 <= x < 2*BASE -> [carry], x mod BASE to the altstack."""
    return Script(
        Op.OP_DUP, BASE, Op.OP_GREATERTHANOREQUAL, Op.OP_TUCK,
        Op.OP_IF, BASE, Op.OP_SUB, Op.OP_ENDIF, Op.OP_TOALTSTACK,
    )  # fmt: skip


def _borrow_to_alt() -> Script:
    """[y] with -BASE <= y < BASE -> [borrow], y mod BASE to the altstack."""
    return Script(
        Op.OP_DUP, 0, Op.OP_LESSTHAN, Op.OP_TUCK,
        Op.OP_IF, BASE, Op.OP_ADD, Op.OP_ENDIF, Op.OP_TOALTSTACK,
    )  # fmt: skip


def times(k: int) -> list[Item]:
    """[x] -> [k x] for a constant k >= 1: doublings, and an addition of a copy of x for
    every further 1 bit of k."""
    bits = bin(k)[3:]
    ops: list[Item] = [Op.OP_DUP] * bits.count("1")
    for bit in bits:
        ops += [Op.OP_DUP, Op.OP_ADD]
        if bit == "1":
            ops.append(Op.OP_ADD)
    return ops


def _from_alt(n: int) -> Script:
    return Script(*[Op.OP_FROMALTSTACK] * n)


def _sub_p_or_keep() -> Script:
    """[s] with 0 <= s < 2p -> [s mod p]: compute s - p, keep it unless it borrowed."""
    p = to_limbs(P)
    parts: list[Item] = [Op.OP_DUP, p[0], Op.OP_SUB, _borrow_to_alt()]
    for i in range(1, N_LIMBS):
        parts += [1 + i, Op.OP_PICK, Op.OP_SWAP, Op.OP_SUB, p[i], Op.OP_SUB]
        if i < N_LIMBS - 1:
            parts.append(_borrow_to_alt())
    # [s8..s0, y8]: y8 < 0 means s < p
    drop_t = Script(*[Op.OP_FROMALTSTACK, Op.OP_DROP] * (N_LIMBS - 1))
    parts += [Op.OP_DUP, 0, Op.OP_LESSTHAN, Op.OP_IF, Op.OP_DROP, drop_t, Op.OP_ELSE]
    parts += [Op.OP_NIP] * N_LIMBS + [_from_alt(N_LIMBS - 1), Op.OP_ENDIF]
    return Script(*parts)


# --- add, sub, double, negate, equality -------------------------------------------------------


@cache
def add_script() -> Script:
    """[a, b] -> [a + b mod p]."""
    parts: list[Item] = [N_LIMBS, Op.OP_ROLL, Op.OP_ADD, _carry_to_alt()]
    for i in range(1, N_LIMBS):
        parts += [Op.OP_ADD, N_LIMBS - i, Op.OP_ROLL, Op.OP_ADD]
        if i < N_LIMBS - 1:
            parts.append(_carry_to_alt())
    parts += [_from_alt(N_LIMBS - 1), _sub_p_or_keep()]
    return Script(*parts)


@cache
def sub_script() -> Script:
    """[a, b] -> [a - b mod p]."""
    parts: list[Item] = [N_LIMBS, Op.OP_ROLL, Op.OP_SWAP, Op.OP_SUB, _borrow_to_alt()]
    for i in range(1, N_LIMBS):
        parts += [Op.OP_ADD, N_LIMBS - i, Op.OP_ROLL, Op.OP_SWAP, Op.OP_SUB]
        if i < N_LIMBS - 1:
            parts.append(_borrow_to_alt())
    # [y8] (signed top limb), low limbs on the altstack: add p back if negative
    p = to_limbs(P)
    add_p: list[Item] = [_from_alt(N_LIMBS - 1), p[0], Op.OP_ADD, _carry_to_alt()]
    for i in range(1, N_LIMBS):
        add_p += [Op.OP_ADD, p[i], Op.OP_ADD]
        if i < N_LIMBS - 1:
            add_p.append(_carry_to_alt())
    parts += [Op.OP_DUP, 0, Op.OP_LESSTHAN, Op.OP_IF, *add_p, _from_alt(N_LIMBS - 1)]
    parts += [Op.OP_ELSE, _from_alt(N_LIMBS - 1), Op.OP_ENDIF]
    return Script(*parts)


def copy_top_script() -> Script:
    """[a] -> [a, a]."""
    return Script(*[N_LIMBS - 1, Op.OP_PICK] * N_LIMBS)


@cache
def double_script() -> Script:
    """[a] -> [2a mod p]."""
    return copy_top_script() + add_script()


@cache
def neg_script() -> Script:
    """[a] -> [-a mod p] (0 stays 0)."""
    zero_under = Script(*[0] * N_LIMBS) + Script(*[2 * N_LIMBS - 1, Op.OP_ROLL] * N_LIMBS)
    return zero_under + sub_script()


@cache
def equalverify_script() -> Script:
    """[a, b] -> [], fails unless a == b (canonical limbs)."""
    parts: list[Item] = []
    for i in range(N_LIMBS - 1):
        parts += [N_LIMBS - i, Op.OP_ROLL, Op.OP_EQUALVERIFY]
    parts.append(Op.OP_EQUALVERIFY)
    return Script(*parts)


@cache
def is_canonical_script() -> Script:
    """[a] -> [a], fails unless every limb is in [0, 2^29) and a < p (for witness values)."""
    parts: list[Item] = []
    for i in range(N_LIMBS):
        parts += [i, Op.OP_PICK, 0, BASE, Op.OP_WITHIN, Op.OP_VERIFY]
    parts += [copy_top_script(), _lt_p_verify()]
    return Script(*parts)


def _lt_p_verify() -> Script:
    """[a] -> [], fails unless a < p; a's low limbs are normalised and its top limb was
    checked non-negative by the caller.  Only the borrow of a - p is computed."""
    p = to_limbs(P)
    parts: list[Item] = [p[0], Op.OP_SUB, 0, Op.OP_LESSTHAN]
    for i in range(1, N_LIMBS):
        parts += [Op.OP_SUB, p[i], Op.OP_SUB, 0, Op.OP_LESSTHAN]
    parts.append(Op.OP_VERIFY)
    return Script(*parts)


# --- hinted multiplication -------------------------------------------------------------------


def peel(k: int, weight: int) -> list[Item]:
    """[acc, x] -> [acc + weight, x - k] if x >= k, else unchanged.  A long constant is
    pushed once and kept for the subtraction (OP_2DUP), a short one twice."""
    if len(push_int(k)) > 2:
        return [k, Op.OP_2DUP, Op.OP_GREATERTHANOREQUAL, Op.OP_IF, Op.OP_SUB, Op.OP_SWAP,
                weight, Op.OP_ADD, Op.OP_SWAP, Op.OP_ELSE, Op.OP_DROP, Op.OP_ENDIF]  # fmt: skip
    return [Op.OP_DUP, k, Op.OP_GREATERTHANOREQUAL, Op.OP_IF, k, Op.OP_SUB, Op.OP_SWAP,
            weight, Op.OP_ADD, Op.OP_SWAP, Op.OP_ENDIF]  # fmt: skip


def strip(k: int) -> list[Item]:
    """[x] -> [x - k] if x >= k, else unchanged."""
    if len(push_int(k)) > 2:
        return [k, Op.OP_2DUP, Op.OP_GREATERTHANOREQUAL, Op.OP_IF, Op.OP_SUB, Op.OP_ELSE,
                Op.OP_DROP, Op.OP_ENDIF]  # fmt: skip
    return [Op.OP_DUP, k, Op.OP_GREATERTHANOREQUAL, Op.OP_IF, k, Op.OP_SUB, Op.OP_ENDIF]


_EFFECT = {
    Op.OP_DUP: 1, Op.OP_2DUP: 2, Op.OP_3DUP: 3, Op.OP_OVER: 1, Op.OP_TUCK: 1,
    Op.OP_PICK: 0, Op.OP_ROLL: -1, Op.OP_SWAP: 0, Op.OP_ROT: 0, Op.OP_NIP: -1,
    Op.OP_DROP: -1, Op.OP_2DROP: -2, Op.OP_WITHIN: -2, Op.OP_VERIFY: -1,
    Op.OP_EQUALVERIFY: -2, Op.OP_NUMEQUALVERIFY: -2, Op.OP_NOT: 0, Op.OP_1ADD: 0,
    Op.OP_TOALTSTACK: 0, Op.OP_FROMALTSTACK: 0, Op.OP_ELSE: 0, Op.OP_ENDIF: 0,
}  # fmt: skip
"""Net stack items of an opcode (stack and altstack together); binary operators and
OP_IF take one item off."""


def _rise(ops: Sequence[Item]) -> int:
    """The most items a fragment of opcodes and numbers has above its start at any point
    (both branches of an IF counted from the IF), for the stack peak: a tracker op only
    records what the fragment leaves.  Unknown opcodes count as binary operators."""
    h = top = 0
    at_if: list[int] = []
    for o in ops:
        if isinstance(o, Script):
            continue  # drops only
        if isinstance(o, bytes) or not isinstance(o, Op):
            h += 1  # a push
        elif o in (Op.OP_IF, Op.OP_NOTIF):
            h -= 1
            at_if.append(h)
        elif o == Op.OP_ELSE:  # (a fragment may hold one end of an IF only)
            h = at_if[-1] if at_if else h
        elif o == Op.OP_ENDIF:
            if at_if:
                at_if.pop()
        else:
            h += _EFFECT.get(o, -1)
        top = max(top, h)
    return top


@cache
def script_rise(script: Script) -> int:
    """The most items `script` has above its start at any point (`_rise` over its
    tokens; small numbers are opcodes but pushes)."""
    ops: list[Item] = []
    for tok in iter_script(bytes(script)):
        if isinstance(tok, bytes) or tok in (0, Op.OP_1NEGATE) or Op.OP_1 <= tok <= Op.OP_16:
            ops.append(b"")
        else:
            ops.append(Op(tok))
    return _rise(ops)


class _Tracker:
    """A model of the stack while a script fragment is generated: items have names, so
    picks and rolls get their depths computed instead of counted by hand."""

    def __init__(self, items: Sequence[str]) -> None:
        self.stack: list[str] = list(items)
        self.alt: list[str] = []
        self.parts: list[Item] = []
        self.peak = len(self.stack)  # most items (stack and altstack) seen

    def _grew(self) -> None:
        self.peak = max(self.peak, len(self.stack) + len(self.alt))

    def depth(self, name: str) -> int:
        return len(self.stack) - 1 - self.stack.index(name)

    def push(self, value: int, name: str) -> None:
        self.parts.append(value)
        self.stack.append(name)
        self._grew()

    def pick(self, name: str, new: str) -> None:
        self.parts += [self.depth(name), Op.OP_PICK]
        self.stack.append(new)
        self._grew()

    def roll(self, name: str) -> None:
        d = self.depth(name)
        if d == 1:
            self.parts.append(Op.OP_SWAP)
        elif d > 1:
            self.parts += [d, Op.OP_ROLL]
            self.peak = max(self.peak, len(self.stack) + len(self.alt) + 1)  # the depth
        self.stack.append(self.stack.pop(len(self.stack) - 1 - d))

    def op(self, ops: Sequence[Item], pops: int, pushes: Sequence[str]) -> None:
        self.peak = max(self.peak, len(self.stack) + len(self.alt) + _rise(ops))
        self.parts += list(ops)
        if pops:
            del self.stack[-pops:]
        self.stack += list(pushes)
        self._grew()

    def drop(self, name: str) -> None:
        self.roll(name)
        self.op([Op.OP_DROP], 1, [])

    def to_alt(self) -> None:
        self.parts.append(Op.OP_TOALTSTACK)
        self.alt.append(self.stack.pop())

    def from_alt(self) -> None:
        self.parts.append(Op.OP_FROMALTSTACK)
        self.stack.append(self.alt.pop())

    def script(self) -> Script:
        return Script(*self.parts)


def _limb(v: str, i: int) -> str:
    return f"{v}{i}"


def _names(v: str) -> list[str]:
    return [_limb(v, i) for i in reversed(range(N_LIMBS))]


def _window_positions(window: int) -> list[list[tuple[int, int]]]:
    """For each window (most significant first): its bits as (limb, bit in limb)."""
    n_windows = -(-256 // window)
    out = []
    for k in reversed(range(n_windows)):
        bits = [(b // LIMB_BITS, b % LIMB_BITS) for b in range(window * k, window * (k + 1))]
        out.append([(limb, bit) for limb, bit in reversed(bits) if limb * LIMB_BITS + bit < 256])
    return out


def _extract_window(t: _Tracker, src: str, window_bits: list[tuple[int, int]], out: str) -> None:
    """Peel the window's bits off the top of the working copies `src<limb>`, leaving the
    window's value as `out`.  A limb's copy is made when its first bit is taken and must
    reach 0 after its last bit, which range-checks the limb for free."""
    t.push(0, out)
    for pos, (limb, bit) in enumerate(window_bits):
        weight = 1 << (len(window_bits) - 1 - pos)
        work = f"{src}w{limb}"
        if work not in t.stack:
            t.pick(_limb(src, limb), work)
        t.roll(work)
        t.op(peel(1 << bit, weight), 2, [out, work])
        t.roll(out)  # [.., work, out]
        if bit == 0:
            t.roll(work)
            t.op([Op.OP_NOT, Op.OP_VERIFY], 1, [])  # every bit of the limb consumed


@cache
def mul_horner_script(window: int = WINDOW) -> Script:
    """[q, a, b] -> [a * b mod p], q = floor(a * b / p) hinted (9 limbs of 29 bits).

    Horner over `window`-bit windows of b and q from the top:
    acc <- acc * 2^w + T_a[b_k] - T_p[q_k], with T_a[j] = j*a (built by additions) and
    T_p[j] = j*p (constants).  For an honest q, |acc| < 2p throughout; the end value
    a*b - q*p must be in [0, p), which pins q and makes the result canonical.
    """
    return lc_horner_script(1, window)


@cache
def lc_horner_script(n: int, window: int = WINDOW) -> Script:
    """[q, a_1, b_1, .., a_n, b_n] -> [sum a_j b_j mod p], q = floor(sum / p) hinted.

    `mul_script` for a sum of products: one quotient, one Horner pass, one carry
    normalisation per limb and window shared by all products (each product adds its
    table and its lookups).  An Fq2 product is two of these with n = 2."""
    if n not in (1, 2):
        raise ValueError("sums of one or two products")
    a_names = [f"a{j}_" for j in range(n)]
    b_names = [f"b{j}_" for j in range(n)]
    items = _names("q")
    for a, b in zip(a_names, b_names, strict=True):
        items += _names(a) + _names(b)
    t = _Tracker(items)
    n_entries = 1 << window
    # T_p (constants): entry j at depth 9 j above entry 0
    for j in reversed(range(n_entries)):
        for i, v in reversed(list(enumerate(to_limbs(j * P)))):
            t.push(v, f"P{j}_{i}")
    # T_a per product: entry 0 = 0, entry e = entry e-1 + a (integer, normalised limbs)
    for a in a_names:
        entries: list[list[str]] = [[f"A{a}0_{i}" for i in range(N_LIMBS)]]
        for i in reversed(range(N_LIMBS)):
            t.push(0, f"A{a}0_{i}")
        for e in range(1, n_entries):
            prev, row = entries[-1], [f"A{a}{e}_{i}" for i in range(N_LIMBS)]
            carry = None
            for i in range(N_LIMBS):
                t.pick(prev[i], "x")
                t.pick(_limb(a, i), "y")
                t.op([Op.OP_ADD], 2, ["x"])
                if carry:
                    t.roll(carry)
                    t.op([Op.OP_ADD], 2, ["x"])
                if i < N_LIMBS - 1:
                    t.op(
                        [Op.OP_DUP, BASE, Op.OP_GREATERTHANOREQUAL, Op.OP_TUCK,
                         Op.OP_IF, BASE, Op.OP_SUB, Op.OP_ENDIF],
                        1, ["c", row[i]],
                    )  # fmt: skip
                    t.roll("c")
                    carry = "c"
                else:
                    t.op([], 1, [row[i]])
            # contiguous, most significant limb deepest, entry e above entry e-1
            for i in reversed(range(N_LIMBS)):
                t.roll(row[i])
            entries.append(row)
    for i in reversed(range(N_LIMBS)):
        t.push(0, f"acc{i}")
    wb = [f"w{b}" for b in b_names]
    positions = _window_positions(window)
    for windows in positions:
        for b, w in zip(b_names, wb, strict=True):
            _extract_window(t, b, windows, w)
        _extract_window(t, "q", windows, "wq")
        for w in [*wb, "wq"]:  # -> N_LIMBS * w
            t.roll(w)
            t.op(times(N_LIMBS), 1, [w])
        carry = None
        for i in range(N_LIMBS):
            t.roll(_limb("acc", i))
            if i < N_LIMBS - 1:  # split off the w bits that move into the next limb
                t.push(0, "hi")
                t.roll(_limb("acc", i))
                for s in reversed(range(window)):
                    k = 1 << (LIMB_BITS - window + s)
                    t.op(peel(k, 1 << s), 2, ["hi", "x"])
            else:
                t.op([], 1, ["x"])
            t.op([Op.OP_DUP, Op.OP_ADD] * window, 1, ["x"])
            if carry:
                t.roll(carry)
                t.op([Op.OP_ADD], 2, ["x"])
            for a, w in zip(a_names, wb, strict=True):
                # + T_a[w] limb i: entry w sits 9 w items *above* entry 0
                t.pick(w, "idx")
                base_a = t.depth(f"A{a}0_{i}") - 1  # depth once idx is popped
                t.op([base_a, Op.OP_SWAP, Op.OP_SUB, Op.OP_PICK, Op.OP_ADD], 2, ["x"])
            # - T_p[wq] limb i: entry wq sits 9 wq items *below* entry 0 of T_p
            t.pick("wq", "idx")
            base_p = t.depth(f"P0_{i}") - 1
            t.op([base_p, Op.OP_ADD, Op.OP_PICK, Op.OP_SUB], 2, ["x"])
            if i < N_LIMBS - 1:
                t.op(_normalise(n), 1, [f"acc{i}", "c"])
                t.roll("hi")
                t.op([Op.OP_ADD], 2, ["carry"])
                carry = "carry"
            else:
                t.op([], 1, [f"acc{i}"])
        for w in [*wb, "wq"]:
            t.drop(w)
        for i in reversed(range(N_LIMBS)):  # keep acc limbs contiguous, msl deepest
            t.roll(_limb("acc", i))
    _keep_only_top(t, "acc")
    # acc must be in [0, p): top limb non-negative, then a - p borrows
    t.pick("acc8", "top")
    t.op([0, Op.OP_GREATERTHANOREQUAL, Op.OP_VERIFY], 1, [])
    body = t.script()
    return body + copy_top_script() + _lt_p_verify()


def _normalise(n: int) -> list[Item]:
    """[x] -> [x mod BASE, floor(x / BASE)] for x in [-BASE, (n + 1) BASE)."""
    if n == 1:
        return [Op.OP_DUP, 0, Op.OP_LESSTHAN,
                Op.OP_IF, BASE, Op.OP_ADD, Op.OP_1NEGATE,
                Op.OP_ELSE, Op.OP_DUP, BASE, Op.OP_GREATERTHANOREQUAL,
                Op.OP_IF, BASE, Op.OP_SUB, 1, Op.OP_ELSE, 0, Op.OP_ENDIF,
                Op.OP_ENDIF]  # fmt: skip
    return [Op.OP_DUP, 0, Op.OP_LESSTHAN,
            Op.OP_IF, BASE, Op.OP_ADD, Op.OP_1NEGATE,
            Op.OP_ELSE, 0, Op.OP_SWAP, *peel(2 * BASE, 2), *peel(BASE, 1), Op.OP_SWAP,
            Op.OP_ENDIF]  # fmt: skip


@cache
def mul_plain_script(window: int = 4) -> Script:
    """[a, b] -> [a * b mod p] without hints: T[j] = j*a mod p by additions, then
    Horner over `window`-bit windows of b with `window` modular doublings and one
    modular addition of a table entry per window."""
    t = _Tracker(_names("a") + _names("b"))
    n_entries = 1 << window
    for i in reversed(range(N_LIMBS)):
        t.push(0, f"T0_{i}")
    for j in range(1, n_entries):
        for i in reversed(range(N_LIMBS)):
            t.pick(f"T{j - 1}_{i}", "x")
        for i in reversed(range(N_LIMBS)):
            t.pick(_limb("a", i), "y")
        t.op([add_script()], 2 * N_LIMBS, [f"T{j}_{i}" for i in reversed(range(N_LIMBS))])
    for i in reversed(range(N_LIMBS)):
        t.push(0, f"acc{i}")
    acc = _names("acc")
    for k, windows_b in enumerate(_window_positions(window)):
        _extract_window(t, "b", windows_b, "wb")
        for name in acc:
            t.roll(name)
        if k:
            for _ in range(window):
                t.op([double_script()], N_LIMBS, acc)
        t.roll("wb")
        t.op(times(N_LIMBS), 1, ["wb"])
        for i in reversed(range(N_LIMBS)):
            t.pick("wb", "idx")
            base = t.depth(f"T0_{i}") - 1
            t.op([base, Op.OP_SWAP, Op.OP_SUB, Op.OP_PICK], 1, [f"e{i}"])
        t.drop("wb")
        t.op([add_script()], 2 * N_LIMBS, acc)
    _keep_only_top(t, "acc")
    return t.script()


def _keep_only_top(t: _Tracker, value: str) -> None:
    """Drop everything the fragment owns except `value`, which must be on top."""
    if t.stack[-N_LIMBS:] != _names(value):
        raise AssertionError("value not on top")
    for _ in range(N_LIMBS):
        t.to_alt()
    rest = len(t.stack)
    t.op([drop(rest)], rest, [])
    for _ in range(N_LIMBS):
        t.from_alt()


@cache
def inv_script() -> Script:
    """[inv, q, a] -> [inv], fails unless inv is canonical and a * inv = 1 (q hinted for
    that product).  The inverse costs one multiplication, not an exponentiation."""
    copy_inv = Script(*[2 * N_LIMBS + Q_LIMBS - 1, Op.OP_PICK] * N_LIMBS)
    return copy_inv + is_canonical_script() + mul_script() + push_script(1) + equalverify_script()


def inv_hints(a: int) -> tuple[int, int]:
    """(inv, q) for `inv_script`."""
    inv = pow(a, -1, P)
    return inv, mul_hint(a, inv)


# --- hinted multiplication in column form ----------------------------------------------------

COL_BITS = 26
COL_BASE = 1 << COL_BITS
N_COLS = 10
"""Limbs of a value in column form: 10 of 26 bits (260 bits)."""
Q_LIMBS = 9
"""Witness items of the quotient hint (`quotient_items`)."""
Q_TOP_CHUNKS: tuple[tuple[int, int], ...] = ((4, 0), (5, 4), (6, 8), (7, 12), (8, 17))
"""(limb, first bit of limb 9) of the items that carry limb 9 above their own 26 bits."""
Q_BITS = 256
"""The quotient hint is below 2^256 (its top limb below 2^22): e q < 2^259 for e <= 7."""
COL_WINDOWS: tuple[tuple[int, int], ...] = (
    (23, 3), (20, 3), (17, 3), (14, 3), (11, 3), (8, 3), (5, 3), (2, 3), (0, 2),
)  # fmt: skip
"""(lowest bit, width) of the windows of each 26-bit block, most significant first."""
P_BAR = (1 << (COL_BITS * N_COLS)) - P
"""2^260 - p: a b = q p + r  iff  a b + q (2^260 - p) = q 2^260 + r (r < 2^260)."""
MAX_NUM = (1 << 31) - 1
"""The largest script number arithmetic takes (4 bytes, signed)."""
TOP_COL_BOUND = 1 << 23
"""The top column never exceeds the value over 2^494, < 2^517 / 2^494 (`lc_script`)."""


def quotient_items(q: int) -> list[bytes]:
    """The quotient hint of `lc_script` as 9 witness items, most significant deepest:
    limbs 0..8 of 26 bits, limbs 4..8 each carrying 4 or 5 bits of limb 9 (22 bits) above
    their own 26 (below 2^31): 256 bits in 9 items (a limb an item would take 10, and
    every quotient sits on a chunk's stack from its start)."""
    if not 0 <= q < 1 << Q_BITS:
        raise ValueError("quotient out of range")
    limbs = [(q >> (COL_BITS * i)) & (COL_BASE - 1) for i in range(N_COLS)]
    for (k, pos), end in _top_chunks():
        limbs[k] += ((limbs[9] >> pos) & ((1 << (end - pos)) - 1)) << COL_BITS
    return [script_num(v) for v in reversed(limbs[:9])]


def _top_chunks() -> list[tuple[tuple[int, int], int]]:
    ends = [pos for _, pos in Q_TOP_CHUNKS[1:]] + [Q_BITS - COL_BITS * 9]
    return list(zip(Q_TOP_CHUNKS, ends, strict=True))


def _unpack_quotient(t: _Tracker) -> None:
    """The hint's 9 items -> limbs q0..q9: the bits above 26 of items 4..8 are peeled off
    into limb 9 (so it is below 2^22 and q < 2^256), and every limb 0..8 that is left
    must be in [0, 2^26) (a negative item, or one with more bits, fails here)."""
    t.push(0, "q9")
    for (k, pos), end in _top_chunks():
        t.roll(f"q{k}")
        for b in reversed(range(end - pos)):
            t.op(peel(1 << (COL_BITS + b), 1 << (pos + b)), 2, ["q9", f"q{k}"])
        t.roll("q9")
    for k in range(9):
        t.pick(f"q{k}", "chk")
        t.op([0, COL_BASE, Op.OP_WITHIN, Op.OP_VERIFY], 1, [])


def _digit(x: int, block: int, lo: int, width: int) -> int:
    return (x >> (COL_BITS * block + lo)) & ((1 << width) - 1)


def _split(t: _Tracker, x: str, bound: int, carry: str) -> int:
    """[.., x] with 0 <= x <= bound -> [.., carry, x mod 2^26]; returns the carry's bound.
    The bits of x above 26 are peeled from the top, so the remainder is below 2^26; the
    powers of two compared with are stack items K<b> (picked: 2 bytes, not 5)."""
    t.push(0, carry)
    t.roll(x)
    for b in reversed(range(COL_BITS, bound.bit_length())):
        t.pick(f"K{b}", "k")
        t.op(
            [Op.OP_2DUP, Op.OP_GREATERTHANOREQUAL, Op.OP_IF, Op.OP_SUB, Op.OP_SWAP,
             1 << (b - COL_BITS), Op.OP_ADD, Op.OP_SWAP, Op.OP_ELSE, Op.OP_DROP, Op.OP_ENDIF],
            3, [carry, x],
        )  # fmt: skip
    return bound >> COL_BITS


def _relimb(
    t: _Tracker, src: Sequence[str], src_bits: int, dst: str, dst_bits: int, value_bits: int
) -> list[str]:
    """Re-cut limbs `src` (least significant first, each below 2^src_bits, the value below
    2^value_bits) into limbs of `dst_bits` named dst0, dst1, ..; the source is consumed.
    Each source limb is cut at the destination boundaries inside it: the pieces above
    the lowest are peeled bit by bit from the top (with the weights they have in their
    destination limb), the lowest is what is left, doubled into place."""
    n_dst = -(-value_bits // dst_bits)
    pieces: list[list[str]] = [[] for _ in range(n_dst)]
    for i, name in enumerate(src):
        lo, hi = src_bits * i, min(src_bits * (i + 1), value_bits)
        if lo >= hi:
            t.drop(name)  # above the value: zero
            continue
        cuts = [lo, *(c for c in range(dst_bits, hi, dst_bits) if c > lo), hi]
        for c_lo, c_hi in reversed(list(pairwise(cuts[1:]))):
            piece = f"{dst}p{i}_{c_lo}"
            t.push(0, piece)
            t.roll(name)
            for b in reversed(range(c_lo, c_hi)):
                t.op(peel(1 << (b - lo), 1 << (b - c_lo)), 2, [piece, name])
            pieces[c_lo // dst_bits].append(piece)
        k, off = divmod(lo, dst_bits)
        t.roll(name)
        t.op([Op.OP_DUP, Op.OP_ADD] * off, 1, [f"{dst}p{i}_{lo}"])
        pieces[k].append(f"{dst}p{i}_{lo}")
    out = []
    for k, ps in enumerate(pieces):
        t.roll(ps[0])
        for p in ps[1:]:
            t.roll(p)
            t.op([Op.OP_ADD], 2, [ps[0]])
        t.op([], 1, [f"{dst}{k}"])
        out.append(f"{dst}{k}")
    return out


def _table(t: _Tracker, x: Sequence[str], name: str, top_bound: int, zero: bool) -> None:
    """Entries e x for e = 0 (if `zero`) or 1 .. 7, in normalised 26-bit limbs: entry e is
    named name<e>_<limb>, its limbs contiguous, limb 9 deepest, entry e above entry e - 1.
    x (10 limbs, least significant first, x < top_bound) is consumed into entry 1; entry
    e = entry e-1 + x with one carry bit per limb (two limbs and a carry < 2^27)."""
    if zero:
        for k in reversed(range(N_COLS)):
            t.push(0, f"{name}0_{k}")
    for k in reversed(range(N_COLS)):
        t.roll(x[k])
        t.op([], 1, [f"{name}1_{k}"])
    for e in range(2, 8):
        if (e * top_bound) >> (COL_BITS * N_COLS):
            raise AssertionError("table entry over 260 bits")
        carry = None
        t.push(COL_BASE, "K")  # picked for the carries (2 bytes, not 5)
        for k in range(N_COLS):
            t.pick(f"{name}{e - 1}_{k}", "s")
            t.pick(f"{name}1_{k}", "y")
            t.op([Op.OP_ADD], 2, ["s"])
            if carry:
                t.roll(carry)
                t.op([Op.OP_ADD], 2, ["s"])
            if k < N_COLS - 1:
                t.op([Op.OP_DUP], 1, ["s", "s2"])
                t.pick("K", "k")
                t.op([Op.OP_GREATERTHANOREQUAL, Op.OP_TUCK, Op.OP_IF], 3, ["c", "s"])
                t.pick("K", "k")
                t.op([Op.OP_SUB, Op.OP_ENDIF], 2, [f"{name}{e}_{k}"])
                t.roll("c")
                carry = "c"
            else:
                t.op([], 1, [f"{name}{e}_{k}"])
        t.drop("K")
        for k in reversed(range(N_COLS)):
            t.roll(f"{name}{e}_{k}")


def _peel_down(k: int, weight: int) -> list[Item]:
    """[acc, x] -> [acc - weight, x - k] if x >= k, else unchanged."""
    return [k, Op.OP_2DUP, Op.OP_GREATERTHANOREQUAL, Op.OP_IF, Op.OP_SUB, Op.OP_SWAP,
            weight, Op.OP_SUB, Op.OP_SWAP, Op.OP_ELSE, Op.OP_DROP, Op.OP_ENDIF]  # fmt: skip


def _lt_p_cols_verify(t: _Tracker, limbs: Sequence[str]) -> None:
    """Fails unless the value of the normalised 26-bit limbs (least significant first)
    is below p: the borrow of value - p, limb by limb on copies."""
    p = [(P >> (COL_BITS * k)) & (COL_BASE - 1) for k in range(N_COLS)]
    t.pick(limbs[0], "d")
    t.op([p[0], Op.OP_SUB, 0, Op.OP_LESSTHAN], 1, ["br"])
    for k in range(1, N_COLS):
        t.pick(limbs[k], "d")
        t.op([Op.OP_SWAP, Op.OP_SUB, p[k], Op.OP_SUB, 0, Op.OP_LESSTHAN], 2, ["br"])
    t.op([Op.OP_VERIFY], 1, [])


@cache
def lc_script(n: int) -> Script:
    """[q, a_1, b_1, .., a_n, b_n] -> [sum a_j b_j mod p], q = floor(sum / p) hinted
    (`quotient_items`: 9 items); a_j, b_j canonical.

    The check is  sum a_j b_j + q (2^260 - p) = q 2^260 + r,  computed once, exactly, in
    20 columns of 26 bits (column i weighs 2^(26 i)).  a_j and b_j are re-cut into
    26-bit blocks; tables T_j[e] = e a_j and T_q[e] = e q (e < 8, normalised 26-bit
    limbs) are built by additions.  Then Horner over the 3-bit windows *inside* the
    blocks, top window first (9 steps, not 86): step (lo, w) doubles every column w
    times and adds, for every block k, T_j[bits lo..lo+w of b_j's block k] and
    T_q[bits lo..lo+w of 2^260 - p's block k] into columns k .. k+9 (shifting by a block
    is moving to another column: free).  Only then is each column split into its 26
    bits and a carry into the next (one carry pass per step, not per window).  After
    the last step columns 10..19 must equal q's limbs and columns 0..9 are r, which must
    be below p; it is re-cut into 29-bit limbs.  The windows of the constant 2^260 - p
    are known when the script is built, so q needs no windows: its table is read at
    fixed depths and zero windows are skipped.  T_j is read at a depth the script
    computes once per step and block (entry 0's depth less 10 e, the same for all the
    block's columns, since one column leaves the stack per column).

    Why nothing overflows: every term is non-negative, so no value goes below 0; the
    quotient's limbs are checked in [0, 2^26) and its limb 9 is below 2^22 (q < 2^256,
    so e q < 2^259: entries fit 10 limbs); a_j, b_j are canonical; table limbs are
    normalised.  The generator keeps an upper bound of every column (2^w times the
    previous remainder, the carry in, the largest table limb of each term) and raises
    rather than emit a script in which a number fed to an opcode could reach 2^31; a
    column that would is split early and its carry parked on the altstack.  The top
    column is bounded by the value: all lower columns are normalised, so after step s
    it is floor(V_s / 2^494) where V_s 2^lo <= sum a_j b_j + q (2^260 - p) < 2^517,
    i.e. below 2^23.  A wrong q fails the check on columns 10..19 or leaves r >= p
    (the identity pins q and r for r < p); a wrong r cannot be claimed, it is computed."""
    if n not in (1, 2):
        raise ValueError("sums of one or two products")
    items = [f"q{k}" for k in reversed(range(Q_LIMBS))]
    for j in range(n):
        items += _names(f"a{j}_") + _names(f"b{j}_")
    t = _Tracker(items)
    _unpack_quotient(t)
    value_bits = P.bit_length()
    for j in range(n):
        a = [_limb(f"a{j}_", i) for i in range(N_LIMBS)]
        _table(t, _relimb(t, a, LIMB_BITS, f"x{j}_", COL_BITS, value_bits), f"A{j}_", P, True)
    _table(t, [f"q{k}" for k in range(N_COLS)], "Q", 1 << Q_BITS, zero=False)
    top_limb = COL_BITS * (N_COLS - 1)
    a_lim = [COL_BASE - 1] * (N_COLS - 1) + [(7 * (P - 1)) >> top_limb]
    q_lim = [COL_BASE - 1] * (N_COLS - 1) + [(7 << Q_BITS) >> top_limb]
    copies: list[list[str]] = []
    cb: dict[str, int] = {}  # bounds of the blocks of b_j still to be read
    for j in range(n):
        b = [_limb(f"b{j}_", i) for i in range(N_LIMBS)]
        copies.append(_relimb(t, b, LIMB_BITS, f"B{j}_", COL_BITS, value_bits))
        for k, name in enumerate(copies[j]):
            cb[name] = (1 << min(COL_BITS, max(0, value_bits - COL_BITS * k))) - 1
    n_cols = 2 * N_COLS
    bound = [0] * n_cols
    for step, (lo, width) in enumerate(COL_WINDOWS):
        # each live block's window of b_j -> the depth of T_j[window] limb 0, less the
        # column: with one column leaving per column, it is the same for every column
        live = [(j, k) for j in range(n) for k in range(N_COLS) if cb[copies[j][k]] >> lo]
        consts = range(COL_BITS, 31)
        len0 = len(t.stack) + len(live) + n_cols + len(consts)
        refs: dict[tuple[int, int], int] = {}
        for j, k in live:
            ref = len0 - 1 - t.stack.index(f"A{j}_0_0") - k
            refs[j, k] = ref
            name = copies[j][k]
            t.push(ref, f"i{j}_{k}")
            t.roll(name)
            for bit in reversed(range(lo, lo + width)):
                if cb[name] >> bit:
                    t.op(_peel_down(1 << bit, N_COLS << (bit - lo)), 2, [f"i{j}_{k}", name])
            cb[name] = min(cb[name], (1 << lo) - 1)
        for i in reversed(range(n_cols)):
            if step:
                t.from_alt()
            else:
                t.push(0, f"c{i}")
        for bit in consts:
            t.push(1 << bit, f"K{bit}")
        carry, cbound = "", 0
        for i in range(n_cols):
            x = f"c{i}"
            t.roll(x)
            xb = bound[i] << width
            if bound[i]:
                t.op([Op.OP_DUP, Op.OP_ADD] * width, 1, [x])
            if carry:
                t.roll(carry)
                t.op([Op.OP_ADD], 2, [x])
                xb += cbound
            # (block of b_j, or -1 for q's table, table entry read, its limb's bound)
            terms = [
                (j, k, f"A{j}_0_{i - k}", a_lim[i - k]) for j, k in live if 0 <= i - k < N_COLS
            ]
            for k in range(N_COLS):
                e = _digit(P_BAR, k, lo, width)
                if e and 0 <= i - k < N_COLS:
                    terms.append((-1, k, f"Q{e}_{i - k}", q_lim[i - k]))
            parked: list[int] = []
            for j, k, entry, lim in terms:
                if i < n_cols - 1 and xb + lim > MAX_NUM:  # split early, park the carry
                    parked.append(_split(t, x, xb, "pk"))
                    t.roll("pk")
                    t.to_alt()
                    xb = COL_BASE - 1
                if j < 0:
                    t.pick(entry, "y")
                    t.op([Op.OP_ADD], 2, [x])
                else:  # T_j[window] limb i - k: entry 0's depth (the same for every i) less 10 e
                    if t.depth(entry) != refs[j, k]:
                        raise AssertionError("table depth drifted")
                    t.pick(f"i{j}_{k}", "ix")
                    t.op([Op.OP_PICK, Op.OP_ADD], 2, [x])
                xb += lim
            if i == n_cols - 1:
                xb = min(xb, TOP_COL_BOUND)  # floor(V / 2^494), see the docstring
            if xb > MAX_NUM:
                raise AssertionError("a column could overflow")
            if i == n_cols - 1:
                bound[i] = xb
                t.to_alt()
                break
            carry, cbound = "", 0
            if xb >= COL_BASE:
                cbound = _split(t, x, xb, "cy")
                carry = "cy"
                xb = COL_BASE - 1
            for pb in parked:
                t.from_alt()
                if carry:
                    t.roll(carry)
                    t.op([Op.OP_ADD], 2, ["cy"])
                else:
                    t.op([], 1, ["cy"])
                carry = "cy"
                cbound += pb
            bound[i] = xb
            t.roll(x)
            t.to_alt()
        for bit in reversed(consts):
            t.drop(f"K{bit}")
        for j, k in reversed(live):
            t.drop(f"i{j}_{k}")
    for _ in range(n_cols):
        t.from_alt()
    for k in range(N_COLS):  # columns 10..19 are q
        t.roll(f"c{N_COLS + k}")
        t.pick(f"Q1_{k}", "y")
        t.op([Op.OP_EQUALVERIFY], 2, [])
    cols = [f"c{i}" for i in range(N_COLS)]
    _lt_p_cols_verify(t, cols)
    _relimb(t, cols, COL_BITS, "r", LIMB_BITS, value_bits)
    for name in _names("r"):
        t.roll(name)
    _keep_only_top(t, "r")
    _LC_PEAK[n] = t.peak - len(items)
    return t.script()


_LC_PEAK: dict[int, int] = {}


def lc_peak(n: int) -> int:
    """Stack items `lc_script(n)` needs above its operands and quotient."""
    lc_script(n)
    return _LC_PEAK[n]


@cache
def mul_script() -> Script:
    """[q, a, b] -> [a * b mod p], q = floor(a * b / p) hinted (`quotient_items`)."""
    return lc_script(1)
