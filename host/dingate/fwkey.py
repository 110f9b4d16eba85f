"""The firmware update key: what `dingate build` signs bundles with and `dingate provision` gives
a board (docs/decisions/0006-firmware-signing.md).

A key file holds 32 random bytes as 64 hex digits. Which file: the ``--update-key`` option, else
$DINGATE_UPDATE_KEY, else build/update.key, made on first use (a development key for the
emulator and this checkout: build/ is never committed). Keep a real fleet's key file outside
the repository, readable by its owner only.
"""
import os

from .paths import BUILD

ENV = "DINGATE_UPDATE_KEY"
DEFAULT = os.path.join(BUILD, "update.key")


class UpdateKeyError(Exception):
    pass


def key_path(path=None):
    return path or os.environ.get(ENV) or DEFAULT


def generate(path):
    """A new key file (refuses to overwrite one)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    return path


def load(path=None):
    """(key bytes, path). The default development key is made when missing; a named one must
    exist."""
    path = key_path(path)
    if not os.path.exists(path):
        if path != DEFAULT:
            raise UpdateKeyError("update key file %s does not exist" % path)
        try:
            generate(path)
        except FileExistsError:  # another build made it meanwhile
            pass
    with open(path) as f:
        text = f.read().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise UpdateKeyError("update key file %s: expected 64 hex digits" % path)
    return key, path
