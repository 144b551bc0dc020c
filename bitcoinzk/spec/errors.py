"""Every reason the state transition function rejects an operation.

One exception class per rule, so callers (mempool, RPC, tests, the circuit's
negative tests) can name the rule that failed instead of parsing messages.
"""

from __future__ import annotations


class InvalidOperation(Exception):
    """Base class: the operation breaks a rule and changes nothing."""

    code: int = -32000


class MalformedOperation(InvalidOperation):
    """A field is missing, of the wrong type, or outside its encoding."""

    code = -32001


class InvalidSignature(InvalidOperation):
    code = -32002


class WrongNonce(InvalidOperation):
    code = -32003


class InsufficientBalance(InvalidOperation):
    code = -32004


class AmountOutOfRange(InvalidOperation):
    """Amount or fee below its minimum, above MAX_SATS, or not representable."""

    code = -32005


class UnknownAccount(InvalidOperation):
    code = -32006


class SelfTransfer(InvalidOperation):
    code = -32007


class PubkeyMismatch(InvalidOperation):
    """The leaf at the target index belongs to another public key."""

    code = -32008


class BalanceOverflow(InvalidOperation):
    """A credit would take a balance above MAX_SATS."""

    code = -32009


class NonceOverflow(InvalidOperation):
    code = -32010


class IndexOutOfRange(InvalidOperation):
    code = -32011


class BlockTooLarge(InvalidOperation):
    """More operations or records than the block's circuit has slots for."""

    code = -32012


class MisplacedForced(InvalidOperation):
    """A forced withdrawal anywhere but slot 0, or out of the contract's queue order."""

    code = -32013
