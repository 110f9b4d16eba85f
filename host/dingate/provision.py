"""`dingate provision`: give a board its identity and secrets, and print its label.

A random AP password and a random first admin password are made here (the firmware's own
gateway.core.passwords: same alphabet, same PBKDF2 hash), written to the board as
/provision.json {"serial", "ap_password", "admin_hash", "must_change", "update_key"} through its
REPL (update_key: the key its firmware bundles must be signed with, dingate.fwkey), and the
board is reset: at boot gateway.services.identity takes the file into its config store and
deletes it. Only the hash of the admin password goes to the board.

The passwords appear in two places only: the one console print of this command and the label
(a PNG for the installer: a QR code that joins the AP in the standard Wi-Fi format
``WIFI:T:WPA;S:<ssid>;P:<password>;;``, the serial, the AP name and password, the admin login).
"""
import json
import os

from gateway.core import passwords

from .remote import Board, RemoteError

PROVISION_FILE = "/provision.json"
AP_URL = "http://192.168.4.1"
PASSWORD_LENGTH = 12  # 57 symbols: ~70 bits


class ProvisionError(Exception):
    pass


def serial_from_mac(mac_hex):
    """The firmware's rule (gateway.services.identity): DG + the MAC's last three bytes."""
    return "DG" + mac_hex[-6:].upper()


def make_identity(serial, admin_user="admin"):
    return {
        "serial": serial, "ap_ssid": "dingate-" + serial,
        "ap_password": passwords.generate_password(PASSWORD_LENGTH),
        "admin_user": admin_user, "admin_password": passwords.generate_password(PASSWORD_LENGTH),
    }


def provision_file(ident, update_key=None):
    """/provision.json; ``update_key`` (bytes): the key the board's firmware bundles must be
    signed with (dingate.fwkey)."""
    doc = {
        "serial": ident["serial"], "ap_password": ident["ap_password"],
        "admin_user": ident["admin_user"],
        "admin_hash": passwords.hash_password(ident["admin_password"]), "must_change": True,
    }
    if update_key is not None:
        doc["update_key"] = update_key.hex()
    return json.dumps(doc).encode()


def _wifi_escape(text):
    out = []
    for ch in text:
        if ch in '\\;,:"':
            out.append("\\")
        out.append(ch)
    return "".join(out)


def wifi_qr_text(ssid, password):
    return "WIFI:T:WPA;S:%s;P:%s;;" % (_wifi_escape(ssid), _wifi_escape(password))


def write_label(ident, out_dir):
    """The installer's label as a PNG; returns its path."""
    import qrcode
    from PIL import Image, ImageDraw, ImageFont

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=2)
    qr.add_data(wifi_qr_text(ident["ap_ssid"], ident["ap_password"]))
    qr.make(fit=True)
    code = qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    lines = [
        ("dingate energy gateway", 26),
        ("Serial: %s" % ident["serial"], 20),
        ("Wi-Fi: %s" % ident["ap_ssid"], 20),
        ("Wi-Fi password: %s" % ident["ap_password"], 20),
        ("Page: %s" % AP_URL, 20),
        ("Admin: %s / %s" % (ident["admin_user"], ident["admin_password"]), 20),
        ("(change the admin password at first login)", 14),
    ]
    pad = 16
    fonts = [ImageFont.load_default(size) for _t, size in lines]
    text_w = max(int(ImageDraw.Draw(code).textlength(t, font=f)) for (t, _s), f in zip(lines, fonts))
    text_h = sum(s + 8 for _t, s in lines)
    width = code.width + 3 * pad + text_w
    height = max(code.height, text_h) + 2 * pad
    img = Image.new("RGB", (width, height), "white")
    img.paste(code, (pad, (height - code.height) // 2))
    draw = ImageDraw.Draw(img)
    y = (height - text_h) // 2
    for (text, size), font in zip(lines, fonts):
        draw.text((code.width + 2 * pad, y), text, fill="black", font=font)
        y += size + 8
    draw.rectangle([0, 0, width - 1, height - 1], outline="black", width=2)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "label-%s.png" % ident["serial"])
    img.save(path)
    return path


def provision(port, serial=None, out_dir="labels", reset=True, update_key=None):
    """Provision the board on ``port``; returns the identity (with passwords) and the label path.
    ``update_key``: the update key file (dingate.fwkey; default $DINGATE_UPDATE_KEY, else the
    development key build/update.key)."""
    from . import fwkey

    try:
        key, key_file = fwkey.load(update_key)
    except fwkey.UpdateKeyError as e:
        raise ProvisionError(str(e))
    try:
        with Board(port) as dev:
            if serial is None:
                serial = serial_from_mac(dev.mac_hex())
            ident = make_identity(serial)
            dev.write_file(PROVISION_FILE, provision_file(ident, key))
            if reset:
                dev.reset()
    except RemoteError as e:
        raise ProvisionError(str(e))
    ident["label"] = write_label(ident, out_dir)
    ident["update_key_file"] = key_file
    return ident
