"""Decimal floats that make a transfer fit in 10 bytes of pubdata.

A value is `m * 10^e`. Float24 keeps 20 bits of mantissa, so every amount below
1,048,576 sats is exact and larger amounts keep six significant digits; Float5
keeps 3 bits of mantissa for fees (0..7000 sats, one significant digit). The
encoder picks the smallest exponent so each value has one canonical encoding.
"""

from __future__ import annotations

from dataclasses import dataclass


class NotRepresentable(ValueError):
    """The value has no exact encoding in this float format."""


def _pow10(e: int) -> int:
    return int(10**e)


@dataclass(frozen=True)
class DecimalFloat:
    exponent_bits: int
    mantissa_bits: int

    @property
    def bits(self) -> int:
        return self.exponent_bits + self.mantissa_bits

    def encode(self, value: int) -> int:
        if value < 0:
            raise NotRepresentable(f"{value} is negative")
        max_m = 1 << self.mantissa_bits
        for e in range(1 << self.exponent_bits):
            scale = _pow10(e)
            if value % scale:
                break
            m = value // scale
            if m < max_m:
                return (e << self.mantissa_bits) | m
        raise NotRepresentable(
            f"{value} is not m*10^e with m < 2^{self.mantissa_bits}; "
            f"nearest lower is {self.round_down(value)}"
        )

    def is_canonical(self, packed: int) -> bool:
        """The smallest exponent for its value: e == 0, or m*10 would not fit.

        One comparison, so the circuit can enforce it too; with it every value
        has exactly one encoding and pubdata decodes to ops one-to-one.
        """
        e = packed >> self.mantissa_bits
        m = packed & ((1 << self.mantissa_bits) - 1)
        return e == 0 or m * 10 >= (1 << self.mantissa_bits)

    def decode(self, packed: int) -> int:
        if not 0 <= packed < (1 << self.bits):
            raise ValueError(f"packed float {packed} does not fit {self.bits} bits")
        e = packed >> self.mantissa_bits
        m = packed & ((1 << self.mantissa_bits) - 1)
        return m * _pow10(e)

    def is_representable(self, value: int) -> bool:
        try:
            self.encode(value)
        except NotRepresentable:
            return False
        return True

    def round_down(self, value: int) -> int:
        """The largest representable value <= `value` (what a wallet should offer)."""
        e = 0
        while value // _pow10(e) >= (1 << self.mantissa_bits):
            e += 1
        if e >= (1 << self.exponent_bits):
            return ((1 << self.mantissa_bits) - 1) * _pow10((1 << self.exponent_bits) - 1)
        return (value // _pow10(e)) * _pow10(e)


FLOAT24 = DecimalFloat(exponent_bits=4, mantissa_bits=20)
FLOAT5 = DecimalFloat(exponent_bits=2, mantissa_bits=3)
