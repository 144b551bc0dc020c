from hypothesis import given
from hypothesis import strategies as st

from bitcoinzk.spec.floats import FLOAT5, FLOAT24, NotRepresentable


def test_small_amounts_are_exact():
    for value in (0, 1, 999, 1_048_575):
        assert FLOAT24.decode(FLOAT24.encode(value)) == value


def test_canonical_encoding_uses_smallest_exponent():
    assert FLOAT24.encode(1_000) == 1_000
    assert FLOAT24.encode(10_000_000) == (1 << 20) | 1_000_000


def test_unrepresentable_amount_is_rejected_with_nearest():
    try:
        FLOAT24.encode(1_234_567)
    except NotRepresentable as exc:
        assert "1234560" in str(exc)
    else:
        raise AssertionError("1,234,567 has 7 significant digits and must not encode")


def test_fee_range():
    assert [FLOAT5.decode(FLOAT5.encode(f)) for f in (0, 7, 70, 7000)] == [0, 7, 70, 7000]
    assert not FLOAT5.is_representable(8)
    assert not FLOAT5.is_representable(15)


@given(st.integers(0, 2**20 - 1), st.integers(0, 15))
def test_round_trip(m, e):
    value = m * 10**e
    assert FLOAT24.decode(FLOAT24.encode(value)) == value


@given(st.integers(0, 2**60))
def test_round_down_is_representable_and_not_above(value):
    down = FLOAT24.round_down(value)
    assert down <= value
    assert FLOAT24.is_representable(down)


@given(st.integers(0, 2**24 - 1))
def test_only_canonical_encodings_are_accepted_and_they_are_the_encoder_output(packed):
    if FLOAT24.is_canonical(packed):
        assert FLOAT24.encode(FLOAT24.decode(packed)) == packed
    else:
        assert FLOAT24.encode(FLOAT24.decode(packed)) != packed
