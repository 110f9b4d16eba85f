"""The emulated USB serial port holds up as a board's does (issue 16, item 13): the real mpremote
`reset`, `soft-reset` and `exec` each 50 times in a row, every one succeeding, and the emulated
board looks like one to them (sys.platform, os.uname(), peers as (ip, port): item 12)."""

import pytest

from dingate.testing import clitools
from dingate.testing.emuproc import free_port, with_repl_port

ROUNDS = 50


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    with with_repl_port(str(tmp_path_factory.mktemp("endurance") / "state")) as emu:
        yield emu


def mpremote(board, *args):
    return clitools.mpremote(board.repl_port, *args, check=False, timeout=90)


@pytest.mark.parametrize("command", [["reset"], ["soft-reset"], ["exec", "print(6 * 7)"]],
                         ids=["reset", "soft-reset", "exec"])
def test_mpremote_command_50_times_in_a_row(board, command):
    for i in range(ROUNDS):
        res = mpremote(board, *command)
        assert res.returncode == 0, "round %d of %s: %s%s\n%s" % (
            i + 1, command, res.stdout, res.stderr, board.log())
        if command[0] == "exec":
            assert res.stdout.strip() == "42"
    with open(board.log_path, "rb") as f:  # no crash of the emulated firmware on the way
        assert b"restarting like a board after a panic" not in f.read()
    back_to_the_gateway(board)


def back_to_the_gateway(board):
    """After soft-reset/exec the board sits in its REPL (main.py does not run after a raw-REPL
    soft reset, as on a board); a hard reset starts the gateway again."""
    assert mpremote(board, "reset").returncode == 0
    board.wait_ready(60)


def test_the_emulated_board_answers_as_an_esp32(board):
    out = mpremote(board, "exec", "import sys, os; print(sys.platform, os.uname().sysname, "
                   "os.uname().machine)").stdout
    assert out.split()[:2] == ["esp32", "esp32"], out
    assert "Generic ESP32 module" in out
    # a server's peer is (ip, port), as on the board (req.client_addr, the login throttle's key)
    src = ("import asyncio\n"
           "got = []\n"
           "async def cb(r, w):\n"
           "    got.append(w.get_extra_info('peername'))\n"
           "    w.close()\n"
           "async def main():\n"
           "    srv = await asyncio.start_server(cb, '127.0.0.1', %d)\n"
           "    r, w = await asyncio.open_connection('127.0.0.1', %d)\n"
           "    for _ in range(100):\n"
           "        if got:\n"
           "            break\n"
           "        await asyncio.sleep(0.02)\n"
           "    print(repr(got[0]))\n"
           "asyncio.run(main())\n") % ((free_port(),) * 2)
    out = mpremote(board, "exec", src).stdout.strip()
    assert out.startswith("('127.0.0.1', ") and out.endswith(")"), out
    back_to_the_gateway(board)
