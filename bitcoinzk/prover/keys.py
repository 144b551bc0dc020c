"""Proving and verifying keys, cached on disk by circuit identity.

Layout, under the key directory (`$BZK_KEY_DIR`, default `~/.cache/bitcoinzk/keys`):

    <circuit_id>/dev/        single-party setup (UNSAFE for real funds; tests, devnets)
        proving.key  verifying.key  verification_key.json  meta.json
    <circuit_id>/ceremony/   imported from a snarkjs ceremony `.zkey` (production)
        (same files) + native.zkey (the ceremony's .zkey) + circuit.wasm
    <circuit_id>/dev-native/ single-party setup of the native prover (Rust), over the
        R1CS of the groth16py dev key (its in-process compiler is the only one that
        compiles the production circuit): native.zkey  circuit.wasm  verifying.key
        verification_key.json  meta.json

Each backend proves with its own dev key (`prover.backend`: "native", the default,
or "groth16py"), so its verifying key is the one to deploy; a ceremony key serves both.

`circuit_id` hashes every circuit source and the parameters (see `circuit.py`),
so a changed circuit never meets a stale key. A ceremony key, when present, wins.
Loading a large proving key is slow (DESIGN: ~36 s at 240k constraints), so a
prover process loads it once and keeps it (see `service.py`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import groth16py

from bitcoinzk.prover.circuit import (
    CircuitShape,
    circuit_id,
    default_key_dir,
    link_libraries,
    write_main,
)

KeySource = Literal["dev", "ceremony"]
Backend = Literal["native", "groth16py"]
BACKENDS: tuple[Backend, ...] = ("native", "groth16py")

PROVING_KEY = "proving.key"
VERIFYING_KEY = "verifying.key"
VK_JSON = "verification_key.json"
META = "meta.json"
NATIVE_ZKEY = "native.zkey"
WASM = "circuit.wasm"


def default_backend() -> Backend:
    """`$BZK_PROVER_BACKEND` if set, else "native" where it is built (with node for
    witnesses), else "groth16py"."""
    from bitcoinzk.prover import native

    env = os.environ.get("BZK_PROVER_BACKEND")
    if env:
        if env not in BACKENDS:
            raise ValueError(f"BZK_PROVER_BACKEND must be one of {BACKENDS}")
        return "native" if env == "native" else "groth16py"
    return "native" if native.available() else "groth16py"


@dataclass(frozen=True)
class KeyPair:
    """A groth16py key pair and its `meta.json` in one directory (any circuit's: the
    batch circuit's `KeyFiles`, the exit circuit's `ExitKeys`)."""

    directory: Path

    @property
    def proving_key(self) -> Path:
        return self.directory / PROVING_KEY

    @property
    def verifying_key(self) -> Path:
        return self.directory / VERIFYING_KEY

    def exists(self) -> bool:
        return self.proving_key.is_file() and self.verifying_key.is_file()

    def meta(self) -> dict[str, object]:
        path = self.directory / META
        if not path.is_file():
            return {}
        data = json.loads(path.read_text())
        assert isinstance(data, dict)
        return data

    def load_proving_key(self) -> groth16py.ProvingKey:
        return groth16py.ProvingKey.load(str(self.proving_key))

    def load_verifying_key(self) -> groth16py.VerifyingKey:
        return groth16py.VerifyingKey.load(str(self.verifying_key))


@dataclass(frozen=True)
class KeyFiles(KeyPair):
    """Where one batch circuit key lives on disk (a native key: its .zkey and .wasm)."""

    shape: CircuitShape
    source: KeySource
    backend: Backend = "groth16py"

    @property
    def native_zkey(self) -> Path:
        return self.directory / NATIVE_ZKEY

    @property
    def wasm(self) -> Path:
        return self.directory / WASM

    def exists(self) -> bool:
        if self.backend == "native":
            return all(p.is_file() for p in (self.native_zkey, self.wasm, self.verifying_key))
        return super().exists()


def key_files(
    shape: CircuitShape,
    source: KeySource,
    key_dir: Path | None = None,
    backend: Backend = "groth16py",
) -> KeyFiles:
    root = key_dir if key_dir is not None else default_key_dir()
    name = "dev-native" if (source, backend) == ("dev", "native") else source
    return KeyFiles(root / circuit_id(shape) / name, shape, source, backend)


@contextmanager
def key_directory(directory: Path, replace: bool = True) -> Iterator[Path]:
    """A temporary directory beside `directory` that becomes it once the block completes:
    a crash never leaves a half-written key to be trusted. An existing `directory` is
    replaced; with `replace=False` it is kept instead (another process made the same
    key meanwhile, and either copy is valid)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        yield tmp
        if replace and directory.exists():
            shutil.rmtree(directory)
        try:
            tmp.rename(directory)
        except OSError:
            if replace or not directory.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def store_key_pair(
    directory: Path,
    pk: groth16py.ProvingKey,
    vk: groth16py.VerifyingKey,
    meta: dict[str, object],
    replace: bool = True,
) -> None:
    """Write a key pair, its verifying key as snarkjs JSON and `meta.json`, atomically
    (`key_directory`)."""
    with key_directory(directory, replace) as tmp:
        pk.save(str(tmp / PROVING_KEY))
        vk.save(str(tmp / VERIFYING_KEY))
        (tmp / VK_JSON).write_text(vk.to_json())
        (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True))


def key_meta(circuit: str, source: str) -> dict[str, object]:
    """What every key's `meta.json` says: the circuit it is for and where it came from."""
    return {
        "circuit_id": circuit,
        "source": source,
        "groth16py": groth16py.__version__,
        "created": int(time.time()),
    }


def _base_meta(shape: CircuitShape, source: KeySource) -> dict[str, object]:
    return {
        **key_meta(circuit_id(shape), source),
        "slots": shape.slots,
        "records": shape.records,
        "depth": shape.depth,
    }


@contextmanager
def _stdout_to(sink: IO[bytes]) -> Iterator[None]:
    """Send file descriptor 1 to `sink`: groth16py's embedded compiler prints its report
    (constraint counts) there from Rust, out of reach of `sys.stdout`."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(sink.fileno(), 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def compiler_report(text: str) -> dict[str, int]:
    """`constraints` (non-linear + linear, what Groth16 pays for) and `wires` from a circom
    compiler report; empty if the report does not have them."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    nonlinear = re.search(r"non-linear constraints: (\d+)", text)
    linear = re.search(r"^linear constraints: (\d+)", text, re.M)
    wires = re.search(r"wires: (\d+)", text)
    if not (nonlinear and linear and wires):
        return {}
    return {
        "constraints": int(nonlinear.group(1)) + int(linear.group(1)),
        "wires": int(wires.group(1)),
    }


def single_party_setup(
    main: str, name: str, libraries: list[str]
) -> tuple[groth16py.ProvingKey, groth16py.VerifyingKey, dict[str, object]]:
    """A single-party Groth16 setup (UNSAFE for real funds) of the circuit whose top-level
    source is `main`, compiled as file `name`: the key pair and what it cost for its
    `meta.json` (`setup_s`, and `constraints`, `wires` from the compiler's report)."""
    with tempfile.TemporaryDirectory(prefix="bzk-circuit-") as tmp:
        path = Path(tmp) / name
        path.write_text(main)
        start = time.perf_counter()
        with tempfile.TemporaryFile() as report:
            with _stdout_to(report):
                pk, vk = groth16py.setup_circom(str(path), libraries)
            report.seek(0)
            text = report.read().decode(errors="replace")
        elapsed = time.perf_counter() - start
    return pk, vk, {**compiler_report(text), "setup_s": round(elapsed, 3)}


def dev_setup(shape: CircuitShape, key_dir: Path | None = None, force: bool = False) -> KeyFiles:
    """Development keys from a single-party setup, made once per circuit and cached.

    UNSAFE for real funds: whoever ran the setup could forge proofs. Use
    `import_zkey` with a ceremony's output for a deployment.
    """
    files = key_files(shape, "dev", key_dir)
    if files.exists() and not force:
        return files
    pk, vk, cost = single_party_setup(shape.main_source(), shape.main_file, link_libraries())
    store_key_pair(files.directory, pk, vk, {**_base_meta(shape, "dev"), **cost})
    return files


def import_zkey(zkey_path: Path, shape: CircuitShape, key_dir: Path | None = None) -> KeyFiles:
    """Import a snarkjs Groth16 ceremony `.zkey` as this circuit's production key.

    The `.zkey` must come from this exact circuit compiled with `circom --O2` (the
    compiler groth16py embeds optimises at O2; circom2 from npm defaults to O1 and
    would give other constraints). `bzk keys import` calls this.
    """
    files = key_files(shape, "ceremony", key_dir)
    with tempfile.TemporaryDirectory(prefix="bzk-circuit-") as tmp:
        main = write_main(shape, Path(tmp))
        pk, vk = groth16py.import_zkey(str(zkey_path), str(main), link_libraries())
    if vk.n_public != 1:
        raise ValueError(f"the .zkey has {vk.n_public} public inputs; the batch circuit has 1")
    meta = _base_meta(shape, "ceremony")
    meta["zkey"] = str(Path(zkey_path).resolve())
    store_key_pair(files.directory, pk, vk, meta)
    _add_native_files(files, Path(zkey_path))
    return files


def _add_native_files(files: KeyFiles, zkey_path: Path) -> None:
    """The native prover reads the ceremony `.zkey` itself and needs the circuit's
    `.wasm`, which groth16py's import compiled into its saved key."""
    from bitcoinzk.prover import native

    if not native.built():
        return
    shutil.copyfile(zkey_path, files.directory / (NATIVE_ZKEY + ".tmp"))
    native.extract_wasm(files.proving_key, files.directory / (WASM + ".tmp"))
    (files.directory / (WASM + ".tmp")).rename(files.wasm)
    (files.directory / (NATIVE_ZKEY + ".tmp")).rename(files.native_zkey)


def find_keys(
    shape: CircuitShape, key_dir: Path | None = None, backend: Backend | None = None
) -> KeyFiles | None:
    """The best key available for this circuit and backend (default: `default_backend()`):
    a ceremony key, else a dev key, else None."""
    chosen = backend if backend is not None else default_backend()
    for source in ("ceremony", "dev"):
        files = key_files(shape, source, key_dir, chosen)
        if files.exists():
            return files
    return None


def ensure_keys(
    shape: CircuitShape,
    key_dir: Path | None = None,
    allow_dev_setup: bool = True,
    backend: Backend | None = None,
) -> KeyFiles:
    """The key to prove with, running a dev setup if none exists and that is allowed."""
    chosen = backend if backend is not None else default_backend()
    found = find_keys(shape, key_dir, chosen)
    if found is not None:
        return found
    if not allow_dev_setup:
        raise FileNotFoundError(
            f"no proving key for circuit {circuit_id(shape)}; run `bzk keys import` "
            "with the ceremony .zkey"
        )
    if chosen == "native":
        return native_dev_setup(shape, key_dir)
    return dev_setup(shape, key_dir)


SETUP_POINTS_PER_S = 40_000.0
"""Native setup speed on 2 cores, in G1-point equivalents per second (a G2 point counts
three), for the expected time printed before a setup starts."""


def native_dev_setup(
    shape: CircuitShape,
    key_dir: Path | None = None,
    force: bool = False,
    progress: bool | None = None,
) -> KeyFiles:
    """Development keys for the native prover: a single-party setup in Rust (all cores)
    over the R1CS of the groth16py dev key (made first if missing: groth16py's
    in-process compiler is what compiles the production circuit). UNSAFE for real funds.

    With `progress` (default: when stderr is a terminal) a rich progress bar runs,
    after a line with the expected time.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from bitcoinzk.prover import native

    files = key_files(shape, "dev", key_dir, "native")
    if files.exists() and not force:
        return files
    compiled = dev_setup(shape, key_dir)
    wires, public, constraints = native.r1cs_shape(compiled.proving_key)
    domain = 1
    while domain < constraints + public + 1:  # one extra row per public signal and wire 0
        domain *= 2
    points = 6 * wires + domain
    expected = points / SETUP_POINTS_PER_S
    console = Console(stderr=True)
    show = console.is_terminal if progress is None else progress
    with key_directory(files.directory) as tmp:
        start = time.perf_counter()
        if show:
            console.print(
                f"native setup {shape.label}: {constraints:,} constraints, {wires:,} wires, "
                f"expected ~{expected:.0f} s on {native.threads()} threads"
            )
            with Progress(
                TextColumn("setup"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
            ) as bar:
                task = bar.add_task("setup", total=points)

                def report(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                info = native.native_setup(
                    compiled.proving_key, tmp / NATIVE_ZKEY, tmp / WASM, report
                )
        else:
            info = native.native_setup(compiled.proving_key, tmp / NATIVE_ZKEY, tmp / WASM)
        elapsed = time.perf_counter() - start
        key = native.NativeProver(tmp / NATIVE_ZKEY, tmp / WASM)
        vk_json = key.verification_key_json()
        vk = groth16py.VerifyingKey.from_snarkjs(vk_json)
        vk.save(str(tmp / VERIFYING_KEY))
        (tmp / VK_JSON).write_text(vk_json)
        meta: dict[str, object] = {
            **_base_meta(shape, "dev"),
            "backend": "native",
            "constraints": info["constraints"],
            "wires": info["wires"],
            "domain": info["domain"],
            "setup_s": round(elapsed, 3),
            "compile_setup_s": compiled.meta().get("setup_s"),
        }
        (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True))
    return files
