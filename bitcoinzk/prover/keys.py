"""Proving and verifying keys, cached on disk by circuit identity.

Layout, under the key directory (`$BZK_KEY_DIR`, default `~/.cache/bitcoinzk/keys`):

    <circuit_id>/dev/        single-party setup (UNSAFE for real funds; tests, devnets)
        proving.key  verifying.key  verification_key.json  meta.json
    <circuit_id>/ceremony/   imported from a snarkjs ceremony `.zkey` (production)
        (same files)

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

from bitcoinzk.prover.circuit import CircuitShape, circuit_id, link_libraries, write_main

KeySource = Literal["dev", "ceremony"]

PROVING_KEY = "proving.key"
VERIFYING_KEY = "verifying.key"
VK_JSON = "verification_key.json"
META = "meta.json"


def default_key_dir() -> Path:
    env = os.environ.get("BZK_KEY_DIR")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "bitcoinzk" / "keys"


@dataclass(frozen=True)
class KeyFiles:
    """Where one key pair lives on disk."""

    directory: Path
    shape: CircuitShape
    source: KeySource

    @property
    def proving_key(self) -> Path:
        return self.directory / PROVING_KEY

    @property
    def verifying_key(self) -> Path:
        return self.directory / VERIFYING_KEY

    @property
    def vk_json(self) -> Path:
        return self.directory / VK_JSON

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


def key_files(shape: CircuitShape, source: KeySource, key_dir: Path | None = None) -> KeyFiles:
    root = key_dir if key_dir is not None else default_key_dir()
    return KeyFiles(root / circuit_id(shape) / source, shape, source)


def _store(
    files: KeyFiles, pk: groth16py.ProvingKey, vk: groth16py.VerifyingKey, meta: dict[str, object]
) -> None:
    """Write a key pair atomically: a crash never leaves a half-written key to be trusted."""
    files.directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{files.source}-", dir=files.directory.parent))
    try:
        pk.save(str(tmp / PROVING_KEY))
        vk.save(str(tmp / VERIFYING_KEY))
        (tmp / VK_JSON).write_text(vk.to_json())
        (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True))
        if files.directory.exists():
            shutil.rmtree(files.directory)
        tmp.rename(files.directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _base_meta(shape: CircuitShape, source: KeySource) -> dict[str, object]:
    return {
        "circuit_id": circuit_id(shape),
        "slots": shape.slots,
        "records": shape.records,
        "depth": shape.depth,
        "source": source,
        "groth16py": groth16py.__version__,
        "created": int(time.time()),
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


def dev_setup(shape: CircuitShape, key_dir: Path | None = None, force: bool = False) -> KeyFiles:
    """Development keys from a single-party setup, made once per circuit and cached.

    UNSAFE for real funds: whoever ran the setup could forge proofs. Use
    `import_zkey` with a ceremony's output for a deployment.
    """
    files = key_files(shape, "dev", key_dir)
    if files.exists() and not force:
        return files
    with tempfile.TemporaryDirectory(prefix="bzk-circuit-") as tmp:
        main = write_main(shape, Path(tmp))
        start = time.perf_counter()
        with tempfile.TemporaryFile() as report:
            with _stdout_to(report):
                pk, vk = groth16py.setup_circom(str(main), link_libraries())
            report.seek(0)
            text = report.read().decode(errors="replace")
        elapsed = time.perf_counter() - start
    meta: dict[str, object] = {**_base_meta(shape, "dev"), **compiler_report(text)}
    meta["setup_s"] = round(elapsed, 3)
    _store(files, pk, vk, meta)
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
    _store(files, pk, vk, meta)
    return files


def find_keys(shape: CircuitShape, key_dir: Path | None = None) -> KeyFiles | None:
    """The best key available for this circuit: a ceremony key, else a dev key, else None."""
    for source in ("ceremony", "dev"):
        files = key_files(shape, source, key_dir)
        if files.exists():
            return files
    return None


def ensure_keys(
    shape: CircuitShape, key_dir: Path | None = None, allow_dev_setup: bool = True
) -> KeyFiles:
    """The key to prove with, running a dev setup if none exists and that is allowed."""
    found = find_keys(shape, key_dir)
    if found is not None:
        return found
    if not allow_dev_setup:
        raise FileNotFoundError(
            f"no proving key for circuit {circuit_id(shape)}; run `bzk keys import` "
            "with the ceremony .zkey"
        )
    return dev_setup(shape, key_dir)
