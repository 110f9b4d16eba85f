"""littlefs2 images of the board's filesystem partition (littlefs-python)."""
from littlefs import LittleFS, LittleFSError

# MicroPython's VfsLfs2 mounts whatever geometry the superblock says; these match its mkfs defaults.
_OPTS = {"read_size": 32, "prog_size": 32, "lookahead_size": 32}


def _dirs(path):
    parts = path.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        yield "/".join(parts[:i])


def make_image(files, block_size, block_count):
    """A fresh formatted image holding ``files`` ({fs path: bytes}).

    The files are written into a small filesystem that is then grown to ``block_count``
    (lfs_fs_grow): they sit in the first blocks and the rest is erased, so flashing the image
    only up to its last used block (`dingate flash` over the emulated ROM loader) is enough."""
    need = sum(-(-len(d) // block_size) + 1 for d in files.values()) + 32
    small = min(block_count, need)
    while True:
        fs = LittleFS(block_size=block_size, block_count=small, **_OPTS)
        try:
            write_files(fs, files)
            break
        except LittleFSError:
            if small >= block_count:
                raise
            small = min(block_count, small * 2)
    if small < block_count:
        fs.context.buffer.extend(b"\xff" * (block_size * (block_count - small)))
        fs.fs_grow(block_count)
    return bytes(fs.context.buffer)


def open_image(data, block_size, block_count):
    fs = LittleFS(block_size=block_size, block_count=block_count, mount=False, **_OPTS)
    fs.context.buffer = bytearray(data)
    fs.mount()
    return fs


def write_files(fs, files):
    made = set()
    for path, data in files.items():
        for d in _dirs(path):
            if d not in made:
                fs.makedirs(d, exist_ok=True)
                made.add(d)
        with fs.open(path.lstrip("/"), "wb") as f:
            f.write(data)


def read_file(fs, path):
    try:
        with fs.open(path.lstrip("/"), "rb") as f:
            return f.read()
    except Exception:
        return None


def walk_files(fs, top="/"):
    for root, _subdirs, files in fs.walk(top):
        for f in files:
            yield (root.rstrip("/") + "/" + f) if root != "/" else "/" + f


def sync(fs, files, owned_prefixes):
    """Make ``fs`` hold ``files``; delete files under ``owned_prefixes`` that the build no longer has.

    Data the device wrote itself (/data, ...) is left alone. Returns the paths written.
    """
    written = []
    for path, data in files.items():
        if read_file(fs, path) != data:
            write_files(fs, {path: data})
            written.append(path)
    for path in list(walk_files(fs)):
        if path not in files and any(path.startswith(p) for p in owned_prefixes):
            fs.remove(path.lstrip("/"))
            written.append(path)
    return written
