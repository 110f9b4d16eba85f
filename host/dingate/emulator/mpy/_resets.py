"""How the emulated board's process ends or restarts (shared by replboot.py and _repl.py)."""

SOFT_RESET_FRIENDLY = 5
SOFT_RESET_RAW = 6
HARD = (3, 4)  # machine.reset(), host gone: the process ends as it would without a REPL


class SoftReset(Exception):
    pass


def exit_code(e):
    return e.args[0] if e.args else 0
