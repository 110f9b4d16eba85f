"""`dingate console`: the board's console and REPL, through mpremote's `repl`.

mpremote 1.29's terminal loop waits on the serial object's file descriptor (`.fd`), which pyserial's
socket:// ports do not have; the socket's descriptor is given to it, so the emulator's
--repl-port (or a serial-to-TCP bridge) opens like a USB serial device.
"""
import argparse


class ConsoleError(Exception):
    pass


def console(port):
    """Attach to the board on ``port`` until Ctrl-] or Ctrl-X; the firmware keeps running."""
    from mpremote.commands import CommandError, do_connect, do_disconnect
    from mpremote.main import State, argparse_repl
    from mpremote.repl import do_repl

    state = State()
    try:
        do_connect(state, argparse.Namespace(device=[port]))
    except CommandError as e:
        raise ConsoleError(str(e))
    try:
        ser = state.transport.serial
        if not hasattr(ser, "fd") and getattr(ser, "_socket", None) is not None:
            ser.fd = ser._socket.fileno()
        if do_repl(state, argparse_repl().parse_args([])):
            print("\nthe board disconnected")
    finally:
        do_disconnect(state)
