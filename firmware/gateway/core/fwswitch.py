"""The switch-over of a firmware update, at boot (boot.py), resumable after a power cut.

It imports nothing but ``os`` on purpose: after a cut mid-switch the next boot runs it from
whatever mix of old and new files /lib then holds, so it depends on no other module of ours
(hence its own small exists/remove_tree). The on-flash protocol below must stay stable between
versions: any version's boot.py finishes any version's switch.

  /fw.new     an upload being received and checked (POST /api/firmware). Never switched:
              a boot removes it.
  /fw.ready   the upload, whole and verified: ``commit()`` renamed /fw.new to it, one atomic
              littlefs rename, the only commit point. It holds the bundle's files at their
              paths (boot.py, lib/..., www/...) and possibly romfs.img.
  /fw.ready/.keep        the bundle's files identical to the installed ones (not staged).
  /fw.ready/.switching   created once the files the new firmware no longer has were moved away.
  /fw.old     the files replaced or removed so far (what a roll-back puts back); <name>~absent
              for a file the old firmware did not have (a roll-back removes it).
  /fw.undo    /fw.ready renamed when the switch failed (not a power cut): roll back, then drop.
  /fw.done    /fw.ready renamed once the switch (and the ROMFS write) is complete: dropped.

``switch()`` moves every file of /fw.ready into place (each old one to /fw.old first). Only
when /fw.ready holds nothing but romfs.img does ``romfs_pending()`` say so: boot.py then writes
the ROMFS image (gateway.core.fwbundle.finish_romfs, from the now whole new /lib) before any
code runs from /rom. A power cut anywhere resumes at the next boot; an error rolls back.
"""
import os

STAGE = "/fw.new"
READY = "/fw.ready"
OLD = "/fw.old"
UNDO = "/fw.undo"
DONE = "/fw.done"
MARK = "/.switching"
KEEP = "/.keep"  # names of the bundle's files identical to the installed ones (not staged)
ROMFS = "romfs.img"
RESULT = "/fw.result"  # one line for the event log (taken by the application after the boot)
TOP_DIRS = ("lib", "www")
ABSENT = "~absent"  # in /fw.old: this file is new (no bundle name has a "~")


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False


def remove_tree(path):
    if not exists(path):
        return
    if _is_dir(path):
        for name in os.listdir(path):
            remove_tree(path + "/" + name)
        os.rmdir(path)
    else:
        os.remove(path)


def _mkdirs(path):
    p = ""
    for part in path.strip("/").split("/"):
        if part:
            p += "/" + part
            try:
                os.mkdir(p)
            except OSError:
                pass


def _files(root, rel=""):
    """Relative paths of the files under ``root`` (a list: the caller moves them)."""
    out = []
    base = root + ("/" + rel if rel else "")
    for name in os.listdir(base):
        r = rel + "/" + name if rel else name
        if _is_dir(root + "/" + r):
            out.extend(_files(root, r))
        else:
            out.append(r)
    return out


def _move(src, dest):
    if "/" in dest[1:]:
        _mkdirs(dest[:dest.rfind("/")])
    os.rename(src, dest)


def commit(root=""):
    """The verified upload becomes the update the next boot switches to (one rename)."""
    remove_tree(root + READY)
    os.rename(root + STAGE, root + READY)


def note(root, text, log):
    log("firmware: " + text)
    try:
        with open(root + RESULT, "w") as f:
            f.write(text)
    except OSError:
        pass


def switch(root="", log=print):
    """At boot: finish or roll back an update (``root``: the filesystem, "" on the device).
    Returns "romfs" when the ROMFS image must be written now (every other file is switched),
    "switched" or "rolled back" when files changed, None when there was nothing to do."""
    ready, old = root + READY, root + OLD
    remove_tree(root + STAGE)  # an upload the power cut short, never committed
    if exists(root + UNDO):
        _roll_back(root)
        note(root, "update rolled back after a failed switch (resumed)", log)
        return "rolled back"
    if not exists(ready):
        remove_tree(root + DONE)  # a finished switch cut before its clean-up
        remove_tree(old)
        return None
    try:
        if not exists(ready + MARK):
            keep = _kept(ready)
            for top in TOP_DIRS:  # files the new firmware no longer has: away first
                if not _is_dir(root + "/" + top):
                    continue
                for rel in _files(root + "/" + top):
                    name = top + "/" + rel
                    if name not in keep and not exists(ready + "/" + name):
                        _move(root + "/" + name, old + "/" + name)
            keep = None
            open(ready + MARK, "w").close()
        for rel in _files(ready):
            if rel == ROMFS or "/" + rel in (MARK, KEEP):
                continue
            dest = root + "/" + rel
            if exists(dest):
                remove_tree(old + "/" + rel)
                _move(dest, old + "/" + rel)
            elif not exists(old + "/" + rel):  # new here (not a resumed move): roll-back removes it
                _mkdirs((old + "/" + rel)[:(old + "/" + rel).rfind("/")])
                open(old + "/" + rel + ABSENT, "w").close()
            _move(ready + "/" + rel, dest)
    except Exception as e:  # noqa: BLE001 - whatever failed, the old firmware comes back
        log("firmware: switch failed: %r" % (e,))
        os.rename(ready, root + UNDO)
        _roll_back(root)
        note(root, "update failed at boot (%r): the previous firmware was kept" % (e,), log)
        return "rolled back"
    if romfs_pending(root):
        return "romfs"
    done(root)
    note(root, "update installed", log)
    return "switched"


def _kept(ready):
    try:
        with open(ready + KEEP) as f:
            return set(line.strip() for line in f if line.strip())
    except OSError:
        return set()


def _roll_back(root):
    if exists(root + OLD):
        for rel in _files(root + OLD):
            if rel.endswith(ABSENT):
                remove_tree(root + "/" + rel[:-len(ABSENT)])
                continue
            dest = root + "/" + rel
            remove_tree(dest)
            _move(root + OLD + "/" + rel, dest)
    remove_tree(root + UNDO)
    remove_tree(root + OLD)


def romfs_pending(root=""):
    """A ROMFS image waits in /fw.ready and every other file of the update is in place."""
    ready = root + READY
    if not exists(ready + "/" + ROMFS) or not exists(ready + MARK):
        return False
    for rel in _files(ready):
        if rel not in (ROMFS, MARK[1:], KEEP[1:]):
            return False
    return True


def done(root=""):
    """The switch is complete: drop what it kept (renamed first: a half-removed /fw.ready would
    read as an update not yet begun)."""
    os.rename(root + READY, root + DONE)
    remove_tree(root + DONE)
    remove_tree(root + OLD)


def take_result(root=""):
    """The last switch's outcome for the event log, once (None when there is none)."""
    try:
        with open(root + RESULT) as f:
            text = f.read()
    except OSError:
        return None
    os.remove(root + RESULT)
    return text
