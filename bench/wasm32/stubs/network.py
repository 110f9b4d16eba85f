"""Names of the ESP32's C module `network` for the heap probe (bench/heap32.py): nothing runs."""
STA_IF, AP_IF = 0, 1
AUTH_OPEN, AUTH_WPA = 0, 3
STAT_IDLE, STAT_CONNECTING, STAT_WRONG_PASSWORD, STAT_NO_AP_FOUND, STAT_GOT_IP = 1000, 1001, 202, 201, 1010


class WLAN:
    pass
