"""Firmware update bundles for the tests: the current tree under another version number."""
import json
import os
import re
import tempfile

from .. import boards, build, fwkey
from ..paths import FIRMWARE


def version_bundle(version, board="emulator", key=True, names=None):
    """The update bundle (bytes) of the current tree built for ``board`` whose
    gateway/__init__.py says VERSION = ``version`` (what the page and /api/system show after the
    update). ``key``: True for the session's update key (tests/conftest.py), another key, or None
    (unsigned); ``names``: the board the bundle claims to be for (default ``board``)."""
    b = boards.load(board)
    files = build.render(b)
    with open(os.path.join(FIRMWARE, "gateway", "__init__.py")) as f:
        src = re.sub(r'VERSION = "[^"]*"', 'VERSION = "%s"' % version, f.read())
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "__init__.py")
        with open(path, "w") as f:
            f.write(src)
        files["/lib/gateway/__init__.mpy"] = build.compile_module(path, "/lib/gateway/__init__.mpy")
    files["/manifest.json"] = json.dumps(build.manifest(files)).encode()
    if key is True:
        key = fwkey.load()[0]
    return build.firmware_bundle(files, build.bundle_romfs(files, b), names or board, version,
                                 key)
