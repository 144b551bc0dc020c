"""Circuit witnesses in this process: the circuit's circom `.wasm` on wasmtime, no node.

    calc = WasmWitness(Path("circuit.wasm"))    # compiled once (cached beside the .wasm)
    wtns = calc.wtns(inputs)                    # the bytes of a snarkjs `.wtns` file
    proof = key.prove_wtns_bytes(wtns)

The `.wasm` is the witness calculator circom's (and groth16py's) compiler emits: the
circuit's witness code plus a small ABI that snarkjs/circom_runtime drive from
JavaScript. Here the same ABI is driven from Python on wasmtime (Bytecode Alliance,
Cranelift; the PyPI wheel ships the engine), so a prover needs neither node nor a
temporary file, and two facts make it fast:

- **Compiled once.** Cranelift takes ~3 s on the production circuit's 11 MB `.wasm`;
  the compiled module is serialized beside the `.wasm`, named by a hash of the `.wasm`
  and of the wasmtime version, and later loads read it back in milliseconds. (Loading a
  serialized module runs its machine code: it is trusted as much as the key beside it.)
- **No per-signal calls from Python.** The ABI moves one field element at a time
  through a small "shared read/write memory" (`writeSharedRWMemory(j, word)`,
  `setInputSignal(hash, i)`, `getWitness(i)`, `readSharedRWMemory(j)`): 1.72M wires x
  9 calls at the production shape, far too many for Python's ~µs per call. A tiny
  WebAssembly module of our own (`_GLUE_WAT`) loops over those calls inside the engine,
  reading the inputs from and writing the witness to its own memory, which Python fills
  and reads in bulk. The whole computation is one call into wasmtime, which (through
  ctypes) runs with the GIL released, so a prover can compute the next block's witness
  while it proves the current one.

The protocol (circom 2 witness calculator, as `circom_runtime`'s witness_calculator.js
drives it):

1. `getFieldNumLen32()` = n32, the 32-bit words per field element (8 for BN254);
   `getRawPrime()` puts the field's prime into the shared memory;
   `getWitnessSize()` / `getInputSize()`: wires and input values.
2. `init(sanity_check)` resets the instance.
3. Each input signal is named by the FNV-1a 64 hash of its name, split into two 32-bit
   halves; `getInputSignalSize(msb, lsb)` is its number of values (0 or negative: no
   such input). For each value: its words (least significant first) into the shared
   memory, then `setInputSignal(msb, lsb, i)`. The call that sets the last input runs
   the whole circuit.
4. `getWitness(i)` copies wire i into the shared memory; its words are the `.wtns`
   file's bytes for that wire (little-endian, canonical form).

A failure inside the circuit (an `assert` or `===` that does not hold, a bad signal
index) calls the imported `runtime.exceptionHandler(code)`, after `printErrorMessage`
has left the circuit's message (e.g. "Error in template Num2Bits_3 line: 38") to be
read character by character through `getMessageChar()`.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.metadata
import os
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime

from bitcoinzk.prover.tooling import WitnessFailed

ENGINE_VERSION = f"wasmtime-py {importlib.metadata.version('wasmtime')}"

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = (1 << 64) - 1

# circom's runtime error codes (exceptionHandler's argument), as circom_runtime names them
_RUNTIME_ERRORS = {
    1: "Signal not found",
    2: "Too many signals set",
    3: "Signal already set",
    4: "Assert Failed",
    5: "Not enough memory",
    6: "Input signal array access exceeds the size",
}
_ASSERT_FAILED = 4

# The loops over the ABI, inside the engine. Signals are described at `table` as
# (hash msb, hash lsb, number of values) triples of i32, their values follow at `values`
# (n32 words each, least significant first); the signal and value being set are kept at
# address 0 and 4 so a failure can say which input it was.
_GLUE_WAT = """
(module
  (import "circuit" "writeSharedRWMemory" (func $write (param i32 i32)))
  (import "circuit" "readSharedRWMemory" (func $read (param i32) (result i32)))
  (import "circuit" "setInputSignal" (func $set (param i32 i32 i32)))
  (import "circuit" "getWitness" (func $get (param i32)))
  (memory (export "memory") 1)

  (func (export "set_inputs")
        (param $table i32) (param $signals i32) (param $values i32) (param $n32 i32)
    (local $s i32) (local $i i32) (local $j i32) (local $len i32) (local $entry i32)
    (block $done
      (loop $signal
        (br_if $done (i32.ge_u (local.get $s) (local.get $signals)))
        (local.set $entry (i32.add (local.get $table) (i32.mul (local.get $s) (i32.const 12))))
        (local.set $len (i32.load offset=8 (local.get $entry)))
        (local.set $i (i32.const 0))
        (block $next
          (loop $value
            (br_if $next (i32.ge_u (local.get $i) (local.get $len)))
            (local.set $j (i32.const 0))
            (block $copied
              (loop $word
                (br_if $copied (i32.ge_u (local.get $j) (local.get $n32)))
                (call $write (local.get $j) (i32.load (local.get $values)))
                (local.set $values (i32.add (local.get $values) (i32.const 4)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $word)))
            (i32.store (i32.const 0) (local.get $s))
            (i32.store (i32.const 4) (local.get $i))
            (call $set (i32.load (local.get $entry))
                       (i32.load offset=4 (local.get $entry))
                       (local.get $i))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $value)))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $signal))))

  (func (export "get_witness") (param $out i32) (param $size i32) (param $n32 i32)
    (local $i i32) (local $j i32)
    (block $done
      (loop $wire
        (br_if $done (i32.ge_u (local.get $i) (local.get $size)))
        (call $get (local.get $i))
        (local.set $j (i32.const 0))
        (block $copied
          (loop $word
            (br_if $copied (i32.ge_u (local.get $j) (local.get $n32)))
            (i32.store (local.get $out) (call $read (local.get $j)))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $word)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $wire)))))
"""

_PAGE = 65536
_PROGRESS_BYTES = 16  # the glue's address 0..15: signal and value being set


class InputSignalError(ValueError):
    """The inputs do not match the circuit's input signals (an unknown name, a wrong
    number of values, or inputs missing): a bug in whoever built them, not a block the
    circuit refuses."""


def signal_hash(name: str) -> tuple[int, int]:
    """FNV-1a 64 of the signal's name: how the `.wasm` looks input signals up
    (as (high, low) 32-bit halves, the arguments its ABI takes)."""
    h = _FNV_OFFSET
    for byte in name.encode():
        h = ((h ^ byte) * _FNV_PRIME) & _MASK64
    return h >> 32, h & 0xFFFFFFFF


def flatten(value: object) -> list[int]:
    """An input's values in the order circom numbers them (nested lists, row-major)."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a field element")
    if isinstance(value, int):
        return [value]
    if isinstance(value, (list, tuple)):
        out: list[int] = []
        for item in value:
            out.extend(flatten(item))
        return out
    raise TypeError(f"{type(value).__name__} is not a field element or a list of them")


def module_cache_path(wasm: Path, digest: str) -> Path:
    """Where the compiled module of this `.wasm` lives: beside it, named by the hash
    of the `.wasm` and the engine (another wasmtime, another file)."""
    return wasm.with_name(f"{wasm.stem}.{digest[:16]}.cwasm")


def _module_digest(code: bytes) -> str:
    return hashlib.sha256(ENGINE_VERSION.encode() + b"\0" + code).hexdigest()


def load_module(engine: wasmtime.Engine, wasm: Path) -> tuple[wasmtime.Module, bool]:
    """The compiled module of `wasm`, and whether it came from the cache.

    A missing or unusable cache file is (re)written: atomically, so a prover that
    starts meanwhile never reads half a file; a directory we may not write to (a
    read-only key store) only costs the compile."""
    code = wasm.read_bytes()
    cached = module_cache_path(wasm, _module_digest(code))
    if cached.is_file():
        try:
            # read, not mapped (`deserialize_file`): a mapped file that something
            # truncates or rewrites in place (a copy over the key directory) would kill
            # the prover with SIGBUS; 14 MB read once per key load costs milliseconds
            return wasmtime.Module.deserialize(engine, cached.read_bytes()), True
        except (wasmtime.WasmtimeError, OSError):
            pass  # written by an engine built differently, or unreadable: compile again
    module = wasmtime.Module(engine, code)
    tmp = cached.with_name(f"{cached.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(module.serialize())
        tmp.replace(cached)
        for stale in wasm.parent.glob(f"{wasm.stem}.*.cwasm"):
            if stale != cached:
                stale.unlink(missing_ok=True)
    except OSError:
        tmp.unlink(missing_ok=True)
    return module, False


@dataclass
class _Failure:
    """What the circuit reported before it trapped (one per calculation: wasmtime-py's
    own record of a host exception is a process-wide global, not safe across threads)."""

    code: int | None = None
    messages: list[str] = field(default_factory=list)


class _Abort(Exception):
    """Raised in a host function to make the engine trap."""


@dataclass
class WasmWitness:
    """The witness calculator of one circuit `.wasm`, compiled once; `wtns` is
    thread-safe (each call has its own wasmtime store and instance)."""

    wasm: Path
    engine: wasmtime.Engine = field(init=False, repr=False)
    module: wasmtime.Module = field(init=False, repr=False)
    glue: wasmtime.Module = field(init=False, repr=False)
    from_cache: bool = field(init=False)
    n32: int = field(init=False)
    prime: int = field(init=False)
    witness_size: int = field(init=False)
    input_size: int = field(init=False)

    def __post_init__(self) -> None:
        self.engine = wasmtime.Engine()
        self.module, self.from_cache = load_module(self.engine, self.wasm)
        self.glue = wasmtime.Module(self.engine, _GLUE_WAT)
        store, circuit, _ = self._instantiate(_Failure())
        self.n32 = int(_call(store, circuit, "getFieldNumLen32"))
        _call(store, circuit, "getRawPrime")
        self.prime = sum(
            (int(_call(store, circuit, "readSharedRWMemory", j)) & 0xFFFFFFFF) << (32 * j)
            for j in range(self.n32)
        )
        self.witness_size = int(_call(store, circuit, "getWitnessSize"))
        self.input_size = int(_call(store, circuit, "getInputSize"))

    def _instantiate(
        self, failure: _Failure
    ) -> tuple[wasmtime.Store, wasmtime.Instance, wasmtime.Instance]:
        store = wasmtime.Store(self.engine)

        def message(caller: wasmtime.Caller) -> str:
            get_char = caller.get("getMessageChar")
            assert isinstance(get_char, wasmtime.Func)
            chars = []
            while (c := int(get_char(caller))) != 0:
                chars.append(chr(c))
            return "".join(chars)

        def print_error(caller: wasmtime.Caller) -> None:
            failure.messages.append(message(caller).strip())

        def write_buffer(caller: wasmtime.Caller) -> None:
            message(caller)  # circuit `log()` output: drained, not printed

        def show_shared(caller: wasmtime.Caller) -> None:
            pass  # `log()` of a value: nothing to print it to

        def exception(code: int) -> None:
            failure.code = code
            raise _Abort

        none = wasmtime.FuncType([], [])
        i32 = wasmtime.ValType.i32()
        imports: dict[str, wasmtime.Func] = {
            "exceptionHandler": wasmtime.Func(store, wasmtime.FuncType([i32], []), exception),
            "printErrorMessage": wasmtime.Func(store, none, print_error, access_caller=True),
            "writeBufferMessage": wasmtime.Func(store, none, write_buffer, access_caller=True),
            "showSharedRWMemory": wasmtime.Func(store, none, show_shared, access_caller=True),
        }
        externs: list[Any] = []
        for imp in self.module.imports:
            if imp.module != "runtime" or imp.name not in imports:
                raise RuntimeError(
                    f"{self.wasm}: not a circom 2 witness calculator "
                    f"(imports {imp.module}.{imp.name})"
                )
            externs.append(imports[imp.name])
        circuit = wasmtime.Instance(store, self.module, externs)
        exports = circuit.exports(store)
        glue_imports = [exports[imp.name] for imp in self.glue.imports if imp.name is not None]
        glue = wasmtime.Instance(store, self.glue, glue_imports)
        return store, circuit, glue

    def _layout(
        self, store: wasmtime.Store, circuit: wasmtime.Instance, inputs: dict[str, object]
    ) -> tuple[bytes, bytes, list[str]]:
        """The glue's signal table and values for these inputs, checked against the
        circuit's own input signals first (a clear error instead of a trap)."""
        table = bytearray()
        values = bytearray()
        names = []
        total = 0
        n8 = self.n32 * 4
        for name, value in inputs.items():
            msb, lsb = signal_hash(name)
            size = int(_call(store, circuit, "getInputSignalSize", msb, lsb))
            if size <= 0:  # this .wasm says 0 for a name it does not know, others -1
                raise InputSignalError(f"{name!r} is not an input signal of the circuit")
            flat = flatten(value)
            if len(flat) != size:
                raise InputSignalError(f"input {name!r} has {len(flat)} values, the circuit {size}")
            table += struct.pack("<III", msb, lsb, size)
            for v in flat:
                values += (v % self.prime).to_bytes(n8, "little")
            names.append(name)
            total += size
        if total != self.input_size:
            raise InputSignalError(
                f"inputs give {total} values, the circuit takes {self.input_size}: "
                "some input signals are missing"
            )
        return bytes(table), bytes(values), names

    def wtns(self, inputs: dict[str, object]) -> bytes:
        """The witness as the bytes of a snarkjs `.wtns` file (version 2: the field, then
        every wire little-endian), exactly what `snarkjs wtns calculate` writes.

        WitnessFailed if the circuit refuses the inputs (the node path's error, with the
        circuit's message); InputSignalError if they are not the circuit's inputs."""
        failure = _Failure()
        store, circuit, glue = self._instantiate(failure)
        table, values, names = self._layout(store, circuit, inputs)
        n8 = self.n32 * 4
        header = self._header()
        table_at = _PROGRESS_BYTES
        values_at = table_at + len(table)
        # the witness goes after the inputs with the .wtns header right before it, so
        # the file is one contiguous read
        header_at = values_at + len(values)
        out_at = (header_at + len(header) + 7) & ~7
        header_at = out_at - len(header)
        end = out_at + self.witness_size * n8
        memory = glue.exports(store)["memory"]
        assert isinstance(memory, wasmtime.Memory)
        have = memory.data_len(store)
        if end > have:
            memory.grow(store, (end - have + _PAGE - 1) // _PAGE)
        memory.write(store, table, table_at)
        memory.write(store, values, values_at)
        memory.write(store, header, header_at)
        _call(store, circuit, "init", 0)
        try:
            _call(store, glue, "set_inputs", table_at, len(names), values_at, self.n32)
            _call(store, glue, "get_witness", out_at, self.witness_size, self.n32)
        except (wasmtime.WasmtimeError, _Abort) as exc:
            progress = memory.read(store, 0, 8)
            signal, index = struct.unpack("<II", progress)
            raise self._error(failure, names[signal] if signal < len(names) else "?", index) from (
                exc if failure.code is None else None
            )
        base = ctypes.addressof(memory.data_ptr(store).contents)
        return ctypes.string_at(base + header_at, end - header_at)

    def witness(self, inputs: dict[str, object]) -> list[int]:
        """The witness as integers (wire 0 is 1, then the public signals, ...)."""
        data = self.wtns(inputs)
        n8 = self.n32 * 4
        start = len(data) - self.witness_size * n8
        return [int.from_bytes(data[i : i + n8], "little") for i in range(start, len(data), n8)]

    def _header(self) -> bytes:
        """The `.wtns` header: magic, version 2, 2 sections; section 1 (field size, the
        prime, wires), then section 2's id and length (its data is the witness)."""
        n8 = self.n32 * 4
        return (
            b"wtns"
            + struct.pack("<II", 2, 2)
            + struct.pack("<IQ", 1, 8 + n8)
            + struct.pack("<I", n8)
            + self.prime.to_bytes(n8, "little")
            + struct.pack("<I", self.witness_size)
            + struct.pack("<IQ", 2, n8 * self.witness_size)
        )

    def _error(self, failure: _Failure, signal: str, index: int) -> Exception:
        if failure.code is None:
            return RuntimeError(f"{self.wasm}: the witness calculator trapped")
        what = _RUNTIME_ERRORS.get(failure.code, f"Unknown error {failure.code}")
        detail = " ".join(m for m in failure.messages if m)
        if failure.code == _ASSERT_FAILED:
            return WitnessFailed(f"{what}. {detail}".strip())
        if failure.code in (1, 2, 3, 6):  # the inputs' fault
            return InputSignalError(f"{what} (setting {signal}[{index}]). {detail}".strip())
        return RuntimeError(f"{self.wasm}: {what}. {detail}".strip())


def _call(store: wasmtime.Store, instance: wasmtime.Instance, name: str, *args: int) -> Any:
    func = instance.exports(store)[name]
    assert isinstance(func, wasmtime.Func)
    return func(store, *args)


__all__ = [
    "ENGINE_VERSION",
    "InputSignalError",
    "WasmWitness",
    "flatten",
    "load_module",
    "module_cache_path",
    "signal_hash",
]
