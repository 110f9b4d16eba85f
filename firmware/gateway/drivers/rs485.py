"""The RS485 line: the board's UART and the transceiver's DE/RE pin (MAX485 and alikes)."""
from machine import UART, Pin

from gateway.drivers.uart_port import UartPort


def open_port(board, bus):
    cfg = board["rs485"]
    uart = UART(cfg["uart"], baudrate=bus["baud"], bits=8, parity=UartPort.PARITY[bus["parity"]],
                stop=bus["stop"], tx=cfg["tx"], rx=cfg["rx"], timeout=0, txbuf=256, rxbuf=512)
    de = None
    if cfg.get("de") is not None:
        de = Pin(cfg["de"], Pin.OUT, value=0 if cfg.get("de_active_high", True) else 1)
        if not cfg.get("de_active_high", True):
            de = _Inverted(de)
    return UartPort(uart, de)


class _Inverted:
    def __init__(self, pin):
        self._pin = pin

    def value(self, v):
        self._pin.value(0 if v else 1)
