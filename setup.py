"""Build the optional-speed, mandatory-build C extension; all metadata lives in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "bitcoinzk.crypto._native",
            sources=["bitcoinzk/crypto/_native.c"],
            extra_compile_args=["-std=c11", "-O3", "-Wall", "-Wextra"],
        )
    ]
)
