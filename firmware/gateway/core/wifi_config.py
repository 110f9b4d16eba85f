"""Wi-Fi settings validation: station credentials and static IP ("0.0.0.0" = DHCP, as on the MEGA).

Configuration-time code, loaded on demand (gateway.core.ondemand).
"""
from gateway.core.errors import ValidationError
from gateway.core.wifi_state import NO_IP


def parse_ipv4(s, field):
    """Dotted IPv4 string -> int; ValidationError(field) otherwise."""
    if not isinstance(s, str):
        raise ValidationError(field, "IPv4 address expected", "ipv4")
    parts = s.strip().split(".")
    if len(parts) != 4:
        raise ValidationError(field, "IPv4 address expected", "ipv4")
    v = 0
    for p in parts:
        if not p or len(p) > 3 or not p.isdigit():
            raise ValidationError(field, "IPv4 address expected", "ipv4")
        n = int(p)
        if n > 255:
            raise ValidationError(field, "IPv4 address expected", "ipv4")
        v = (v << 8) | n
    return v


def format_ipv4(v):
    return "%d.%d.%d.%d" % ((v >> 24) & 255, (v >> 16) & 255, (v >> 8) & 255, v & 255)


def _check_host(v, field):
    first = v >> 24
    if first == 0 or first == 127 or first >= 224:
        raise ValidationError(field, "not a usable host address", "ipv4")


def validate_ip_config(data):
    """Static IP settings -> {"ip", "netmask", "gateway", "dns"} (normalized dotted strings).

    ``ip`` "0.0.0.0" (or absent/empty) means DHCP: then all four are "0.0.0.0". Otherwise
    ``netmask`` must be a contiguous mask /1-/30 (a /31 or /32 leaves no room for a router);
    ``ip`` must be a usable host address, neither the network nor the broadcast address;
    ``gateway`` "0.0.0.0" means none, else a host in the same subnet and not ``ip`` itself;
    ``dns`` "0.0.0.0" means "use the gateway" (stored as given), else a usable host address.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationError("ip", "object expected", "format")

    def get(k):
        v = data.get(k)
        return NO_IP if v is None or v == "" else v

    ip = parse_ipv4(get("ip"), "ip")
    if ip == 0:
        return {"ip": NO_IP, "netmask": NO_IP, "gateway": NO_IP, "dns": NO_IP}
    _check_host(ip, "ip")
    mask = parse_ipv4(get("netmask"), "netmask")
    inv = (~mask) & 0xFFFFFFFF
    if mask == 0 or (inv & (inv + 1)) != 0:
        raise ValidationError("netmask", "not a valid netmask", "format")
    if inv < 3:
        raise ValidationError("netmask", "netmask too small for a host and a gateway", "netmask_small")
    host = ip & inv
    if host == 0 or host == inv:
        raise ValidationError("ip", "network or broadcast address", "net_address")
    gw = parse_ipv4(get("gateway"), "gateway")
    if gw:
        if gw == ip:
            raise ValidationError("gateway", "gateway cannot be the device's own address", "differ",
                                  {"other": "ip"})
        if (gw & mask) != (ip & mask):
            raise ValidationError("gateway", "gateway not in the device's subnet", "subnet")
        if (gw & inv) == 0 or (gw & inv) == inv:
            raise ValidationError("gateway", "network or broadcast address", "net_address")
    dns = parse_ipv4(get("dns"), "dns")
    if dns:
        _check_host(dns, "dns")
    return {
        "ip": format_ipv4(ip),
        "netmask": format_ipv4(mask),
        "gateway": format_ipv4(gw),
        "dns": format_ipv4(dns),
    }


SSID_MAX = 32
PSK_MIN, PSK_MAX = 8, 63


def validate_wifi(data):
    """POST /api/wifi/connect body -> {"ssid", "password", "ip", "netmask", "gateway", "dns"}.

    ``ssid``: 1-32 bytes of UTF-8; ``password``: "" (or absent/null) for an open network, else a
    WPA passphrase of 8-63 characters (printable ASCII per IEEE 802.11i, so bytes = characters);
    optional static IP fields as ``validate_ip_config`` (absent = DHCP).
    """
    if not isinstance(data, dict):
        raise ValidationError("ssid", "object expected", "format")
    ssid = data.get("ssid")
    if not isinstance(ssid, str) or not ssid:
        raise ValidationError("ssid", "network name required", "required")
    if len(ssid.encode()) > SSID_MAX:
        raise ValidationError("ssid", "network name longer than 32 bytes", "maxlen", {"max": 32})
    for c in ssid:
        if ord(c) < 32:
            raise ValidationError("ssid", "network name contains a control character", "format")
    pw = data.get("password")
    if pw is None:
        pw = ""
    if not isinstance(pw, str):
        raise ValidationError("password", "password must be a string", "format")
    if pw:
        if not (PSK_MIN <= len(pw) <= PSK_MAX):
            raise ValidationError("password", "Wi-Fi key must be 8-63 characters",
                                  "length", {"min": 8, "max": 63})
        for c in pw:
            if not (32 <= ord(c) <= 126):
                raise ValidationError("password", "Wi-Fi key: printable ASCII characters only",
                                      "format")
    out = {"ssid": ssid, "password": pw}
    out.update(validate_ip_config(data))
    return out
