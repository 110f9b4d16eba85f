"""MQTT over TLS end to end: the emulated gateway, set up through the HTTP API, publishes to a
real mosquitto that listens only with TLS, checking the broker's certificate against the CA
given in the settings; with another CA it refuses the broker and says why.

The CA and the broker's certificate (ECDSA P-256) are made here, at test time, with
`cryptography`.
"""
import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dingate.testing.broker import MOSQUITTO, Broker
from dingate.testing.emuproc import EmulatorProcess
from dingate.testing.mqtt_collector import Collector

paho = pytest.importorskip("paho.mqtt.client")
pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto not installed (make setup)")
BASE = "site/tls"


def _cert(subject, key, issuer, issuer_key, ca, san=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
         .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(now + datetime.timedelta(days=2))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _pem(obj):
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM).decode()
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _pki(d):
    """A CA, the broker's certificate for "localhost" signed by it, and an unrelated CA."""
    ca_key, srv_key, other_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _cert("dingate test CA", ca_key, "dingate test CA", ca_key, True)
    srv = _cert("localhost", srv_key, "dingate test CA", ca_key, False, san="localhost")
    other = _cert("some other CA", other_key, "some other CA", other_key, True)
    for name, obj in (("ca.pem", ca), ("srv.pem", srv), ("srv.key", srv_key)):
        (d / name).write_text(_pem(obj))
    return _pem(ca), _pem(other)


def test_mqtt_over_tls_checks_the_broker(tmp_path):
    ca_pem, other_pem = _pki(tmp_path)
    broker = Broker(tmp_path, "allow_anonymous true\ncafile %s\ncertfile %s\nkeyfile %s\n" % (
        tmp_path / "ca.pem", tmp_path / "srv.pem", tmp_path / "srv.key"))
    broker.start()
    sub = Collector(broker.port, [BASE + "/#"], "tls-collector", host="localhost",
                    ca=tmp_path / "ca.pem")
    emu = EmulatorProcess()
    try:
        emu.start()
        emu.login()
        assert emu.api("PUT", "/api/settings", {"sample_interval_s": 5}).status_code == 200
        emu.add_meters({"name": "Workshop", "address": 2, "profile": "sdm120"})

        # a CA that did not sign the broker's certificate: refused, and the reason is shown
        r = emu.api("PUT", "/api/mqtt", {"host": "localhost", "port": broker.port, "tls": True,
                                         "tls_verify": True, "ca": other_pem, "base_topic": BASE})
        assert r.status_code == 200, r.text
        state = emu.wait_for(lambda: (lambda s: s["last_error"] and s)(
            emu.api("GET", "/api/mqtt").json()["state"]), timeout=30, what="the refusal")
        assert not state["connected"], state
        assert "not correctly signed by the trusted CA" in state["last_error"], state
        assert not sub.messages()

        # the right CA: connected over TLS, samples arrive at a TLS-only broker
        r = emu.api("PUT", "/api/mqtt", {"ca": ca_pem})
        assert r.status_code == 200, r.text
        emu.wait_for(lambda: emu.api("GET", "/api/mqtt").json()["state"]["connected"],
                     timeout=60, what="the TLS connection")
        emu.wait_for(lambda: any(t.endswith("/sample") for t in sub.topics()), timeout=60,
                     what="a sample over TLS")
        cfg = emu.api("GET", "/api/mqtt").json()
        assert cfg["tls"] is True and cfg["ca"].startswith("-----BEGIN CERTIFICATE-----")
        assert json.dumps(cfg).count("PRIVATE") == 0
    finally:
        sub.close()
        emu.cleanup()
        broker.stop()
