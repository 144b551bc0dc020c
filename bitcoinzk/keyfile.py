"""Secret key files: JSON holding a secret in hex beside its public key.

Whoever reads a key file can spend, so it is created with mode 0600 by the very
call that creates it: there is no moment at which another user could read it.
The public key written beside the secret lets a load notice a file that was
edited or mixed up with another's.  This module imports nothing from the
project, so any layer may use it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path


class KeyFileError(ValueError):
    """The public key in a key file is not the one its secret gives."""


def save_key_file(
    path: Path, secret_field: str, secret: bytes, pubkey_hex: str, *, replace: bool
) -> None:
    """Write `{secret_field: secret hex, "pubkey": pubkey_hex}` readable by its owner
    only.  Without `replace`, an existing file is never overwritten (FileExistsError):
    the key it holds would be lost."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({secret_field: secret.hex(), "pubkey": pubkey_hex}, f)


def load_key_file(path: Path, secret_field: str, pubkey_hex: Callable[[bytes], str]) -> bytes:
    """The secret of a key file, once its public key is checked to be the secret's."""
    data = json.loads(path.read_text())
    secret = bytes.fromhex(data[secret_field])
    if pubkey_hex(secret) != data["pubkey"]:
        raise KeyFileError(f"{path}: public key does not match the secret")
    return secret
