"""Build the C extension and the Rust prover extension; all metadata lives in pyproject.toml.

`bitcoinzk.prover._arkprover` is the native Groth16 prover (native/prover, PyO3 +
arkworks with the `parallel` and `asm` features), built by setuptools-rust: cargo and
crates.io are needed at install time (`make install` on a fresh machine).
"""

from setuptools import Extension, setup
from setuptools_rust import Binding, RustExtension

NATIVE_PARTS = ("field", "poseidon", "curve", "eddsa")

setup(
    ext_modules=[
        Extension(
            "bitcoinzk.crypto._native",
            # one file per concern: the field (inline in field.h), Poseidon, the curve, EdDSA
            sources=[
                "bitcoinzk/crypto/_native.c",
                *(f"bitcoinzk/crypto/csrc/{name}.c" for name in NATIVE_PARTS),
            ],
            depends=[f"bitcoinzk/crypto/csrc/{name}.h" for name in NATIVE_PARTS],
            extra_compile_args=["-std=c11", "-O3", "-Wall", "-Wextra", "-fvisibility=hidden"],
        )
    ],
    rust_extensions=[
        RustExtension(
            "bitcoinzk.prover._arkprover",
            path="native/prover/Cargo.toml",
            binding=Binding.PyO3,
            debug=False,
        )
    ],
)
