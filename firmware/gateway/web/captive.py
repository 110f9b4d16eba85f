"""Captive portal: the phones' connectivity checks and foreign hosts land on our page."""
from microdot import Response

from gateway.drivers.wifi import AP_IP

PROBES = ("/generate_204", "/gen_204", "/hotspot-detect.html", "/library/test/success.html",
          "/connecttest.txt", "/ncsi.txt", "/redirect", "/canonical.html", "/success.txt")


def register(app, ctx):
    home = "http://%s/" % AP_IP

    @app.before_request
    def captive(req):
        # one hook, no route per probe: every route costs heap
        if req.path in PROBES:
            return Response.redirect(home)
        host = req.headers.get("Host", "")
        if (host and ctx.radio.ap_active() and not req.path.startswith("/api/")
                and host not in ctx.own_hosts(req)):
            return Response.redirect(home)
