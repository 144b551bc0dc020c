"""The bounded JSON loader: deep nesting is refused before the parser recurses (issue 11 §2)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitcoinzk import safejson
from bitcoinzk.safejson import MAX_DEPTH, JSONDepthError, loads, nesting_depth

ATTACK = "[" * 70_000 + "]" * 70_000
FUZZ = settings(max_examples=200, deadline=None, derandomize=True)


def reference_depth(text: str) -> int:
    """The obvious character loop, for comparison with the regex scan."""
    depth = best = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            best = max(best, depth)
        elif ch in "]}":
            depth -= 1
    return best


def value_depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((value_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((value_depth(v) for v in value.values()), default=0)
    return 0


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=30,
)


def test_the_reported_attack_is_refused_in_a_process_whose_recursion_limit_was_raised():
    # Importing the node raises the recursion limit to 100000 (py_ecc); the standard
    # parser then segfaults on this input. The loader must refuse it cleanly.
    script = (
        "import sys, bitcoinzk.node.server, bitcoinzk.bitcoin.rpc_server\n"
        "from bitcoinzk.safejson import loads, JSONDepthError\n"
        "assert sys.getrecursionlimit() >= 100000, sys.getrecursionlimit()\n"
        "try:\n"
        "    loads('[' * 70000 + ']' * 70000)\n"
        "except JSONDepthError as exc:\n"
        "    print('refused:', exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert "refused: JSON nested 70000 levels deep" in done.stdout


@pytest.mark.parametrize("opener,closer", [("[", "]"), ('{"a":', "}")])
def test_depth_limit_is_exact(opener, closer):
    ok = opener * MAX_DEPTH + "1" + closer * MAX_DEPTH
    assert value_depth(loads(ok)) == MAX_DEPTH
    deep = opener * (MAX_DEPTH + 1) + "1" + closer * (MAX_DEPTH + 1)
    with pytest.raises(JSONDepthError):
        loads(deep)
    # The depth is counted before parsing: an unbalanced prefix is enough.
    with pytest.raises(JSONDepthError):
        loads(opener * 1_000_000)


def test_brackets_inside_strings_do_not_count():
    text = json.dumps(["[" * 1000, "{" * 1000, '\\"[[[', "\\\\" + "[" * 100])
    assert nesting_depth(text.encode()) == 1
    assert loads(text)[0] == "[" * 1000


def test_str_bytes_and_bom_inputs():
    assert loads(b"[1]") == loads("[1]") == loads(bytearray(b"[1]")) == [1]
    assert loads(b"\xef\xbb\xbf[2]") == [2]


@pytest.mark.parametrize(
    "data",
    [
        b"NaN",
        b"[Infinity]",
        b'{"a": -Infinity}',
        b"[1e999]",
        b"1" * 5000,  # over Python's int digit limit
        b"\xff[]",  # not UTF-8
        "[1]".encode("utf-16"),  # JSON between systems is UTF-8 (RFC 8259)
        b"",
        b"[1,]",
    ],
)
def test_non_json_numbers_encodings_and_syntax_are_value_errors(data):
    with pytest.raises(ValueError):
        loads(data)


def test_decimal_floats_for_amounts():
    from decimal import Decimal

    assert loads(b"[0.1]", parse_float=Decimal) == [Decimal("0.1")]


def test_load_path(tmp_path):
    path = tmp_path / "g.json"
    path.write_text('{"a": [1]}')
    assert safejson.load_path(path) == {"a": [1]}
    path.write_text(ATTACK)
    with pytest.raises(JSONDepthError):
        safejson.load_path(path)


@FUZZ
@given(json_values)
def test_round_trip_and_depth_of_any_json_value(value):
    text = json.dumps(value)
    assert nesting_depth(text.encode()) == value_depth(value)
    if value_depth(value) <= MAX_DEPTH:
        assert loads(text) == value or (isinstance(value, float) and math.isnan(value))


@FUZZ
@given(st.text(alphabet='[]{}"\\a,:1 \n', max_size=200))
def test_scan_matches_the_character_loop_on_any_text(text):
    assert nesting_depth(text.encode()) == reference_depth(text)


@FUZZ
@given(st.binary(max_size=300))
def test_garbage_bytes_give_a_value_or_a_value_error(data):
    try:
        loads(data)
    except ValueError:
        pass


def test_no_quadratic_blowup_on_unterminated_escaped_strings():
    # Each '"' could start a failing string match; the scan must stay linear.
    data = b'"' + b'\\"' * 500_000
    assert nesting_depth(data) == 0
