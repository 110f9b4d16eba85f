"""Build the generator service from the board file and the stored configuration."""
from gateway.core import tz
from gateway.drivers.relay import Relay


def _pin_conf(items, name):
    for it in items:
        if it.get("name") == name:
            return it
    return None


def configured(cfg):
    """A stored genset configuration that asks for control (else the service is not loaded)."""
    return bool(cfg) and (cfg.get("mode", "off") != "off" or bool(cfg.get("soc_source")))


def build(dev, force=False):
    """The GensetService, or None when the board has no genset relay or (unless ``force``) the
    generator is not configured: then the contact is only held open and nothing else loads."""
    board = dev.board
    relay_conf = _pin_conf(board.get("relays", []), "genset")
    if relay_conf is None:
        return None
    relay = Relay(relay_conf["pin"], relay_conf.get("normally_closed", False),
                  relay_conf.get("active_high", True))
    if not force and not configured(dev.store.load("genset")):
        return None

    def local_minutes(now):
        p = tz.get(dev.settings["timezone"]).parts(now)
        return p[3] * 60 + p[4]

    read_feedback = None
    fb = _pin_conf(board.get("inputs", []), "genset_feedback")
    if fb is not None:
        from gateway.drivers.digital_input import DigitalInput

        read_feedback = DigitalInput(fb["pin"], fb.get("active_high", True)).active

    from gateway.core.genset import GensetController
    from gateway.services.genset import GensetService

    store = dev.store
    ctrl = GensetController(store.load("genset") or {}, store.load("genset_state"), local_minutes)
    return GensetService(ctrl, relay, dev.meters.poller.readings,
                         save_state=lambda p: store.save("genset_state", p),
                         log_event=dev.event,
                         save_config=lambda c: store.save("genset", c),
                         read_feedback=read_feedback)
