"""Hostile JSON-RPC parameters, shared by the fuzz tests of both servers."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

HUGE = [2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63), -(2**64), 10**100, -1]
ODD_STRINGS = [
    "",
    "latest",
    "0x",
    "0x" + "00" * 32,
    "00" * 32,
    "ff" * 32,
    "zz" * 32,
    "ab " * 31 + "ab",
    "\u0661",
    "\x00",
    "\ud800",
    "raw(51)",
    "addr(bcrt1qqqqq)",
    "start",
    "x" * 5000,
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(ODD_STRINGS),
)


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
) | st.sampled_from([nested(60), {"a": nested(40)}])


def params_for(names: list[str]) -> st.SearchStrategy[Any]:
    """Positional lists, named objects (right and wrong names) and non-container params."""
    return st.one_of(
        st.lists(values, max_size=len(names) + 1),
        st.dictionaries(st.sampled_from([*names, "x", "self"]), values, max_size=3),
        scalars,
    )
