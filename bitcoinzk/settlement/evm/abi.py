"""Just enough Ethereum ABI for our own contracts: calls, return values, events.

Both EVM clients speak raw bytes (calldata in, return data and logs out), so the
encoding lives here once instead of twice (web3's contract layer would not work
for the embedded py-evm client anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils.crypto import keccak


def _type_of(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_type_of(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


def _signature(entry: dict[str, Any]) -> str:
    return f"{entry['name']}({','.join(_type_of(p) for p in entry['inputs'])})"


@dataclass(frozen=True)
class Event:
    """A decoded log of one of our contracts."""

    name: str
    args: dict[str, Any]
    block_number: int
    tx_hash: bytes
    log_index: int
    block_hash: bytes | None = None
    """The hash of the block the log was read from, when the client says (a follower
    records it with what it read, to notice a reorg that happened while it read)."""


class Abi:
    """Encodes calls to, and decodes results and logs of, one contract."""

    def __init__(self, abi: list[dict[str, Any]]) -> None:
        self.functions = {e["name"]: e for e in abi if e.get("type") == "function"}
        self.events = {e["name"]: e for e in abi if e.get("type") == "event"}
        self.constructor = next((e for e in abi if e.get("type") == "constructor"), None)
        self.topics = {keccak(text=_signature(e)): e for e in self.events.values()}

    def selector(self, name: str) -> bytes:
        return keccak(text=_signature(self.functions[name]))[:4]

    def encode_call(self, name: str, *args: Any) -> bytes:
        fn = self.functions[name]
        types = [_type_of(p) for p in fn["inputs"]]
        return self.selector(name) + abi_encode(types, list(args))

    def decode_call(self, name: str, data: bytes) -> tuple[Any, ...]:
        """The arguments of a call to `name` (raises ValueError for another function or
        arguments that do not decode)."""
        if data[:4] != self.selector(name):
            raise ValueError(f"calldata is not a call to {name}")
        types = [_type_of(p) for p in self.functions[name]["inputs"]]
        try:
            return tuple(abi_decode(types, data[4:]))
        except DecodingError as exc:
            # Calldata is whatever a transaction carried (a selector is 4 bytes: anyone
            # can match it); readers catch ValueError, not eth_abi's own exceptions.
            raise ValueError(f"calldata of {name} does not decode: {exc}") from None

    def decode_result(self, name: str, data: bytes) -> Any:
        types = [_type_of(p) for p in self.functions[name]["outputs"]]
        values = abi_decode(types, data)
        return values[0] if len(values) == 1 else tuple(values)

    def encode_constructor(self, *args: Any) -> bytes:
        if self.constructor is None:
            return b""
        types = [_type_of(p) for p in self.constructor["inputs"]]
        return abi_encode(types, list(args))

    def decode_log(
        self, topics: list[bytes], data: bytes, block_number: int, tx_hash: bytes, log_index: int
    ) -> Event | None:
        """Decode a log of this contract; None for a log this ABI does not know."""
        if not topics or topics[0] not in self.topics:
            return None
        entry = self.topics[topics[0]]
        indexed = [p for p in entry["inputs"] if p.get("indexed")]
        plain = [p for p in entry["inputs"] if not p.get("indexed")]
        args: dict[str, Any] = {}
        for param, topic in zip(indexed, topics[1:], strict=True):
            args[param["name"]] = abi_decode([_type_of(param)], topic)[0]
        values = abi_decode([_type_of(p) for p in plain], data)
        for param, value in zip(plain, values, strict=True):
            args[param["name"]] = value
        return Event(entry["name"], args, block_number, tx_hash, log_index)
