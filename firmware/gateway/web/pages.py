"""The page: static files from /www (gzipped by the build), served with Content-Encoding."""
from microdot import Response

from gateway.core.configstore import exists
from gateway.web.http import error

WWW = "/www"
TYPES = {"html": "text/html; charset=UTF-8", "js": "application/javascript", "css": "text/css",
         "svg": "image/svg+xml", "json": "application/json", "ico": "image/x-icon", "png": "image/png"}


def static(name):
    path = WWW + "/" + name + ".gz"
    if ".." in name or not exists(path):
        return error(404, "not found")
    ctype = TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")
    res = Response.send_file(path, content_type=ctype, compressed=True)
    res.headers["Cache-Control"] = "no-cache" if name == "index.html" else "max-age=86400"
    return res


def register(app, ctx):
    @app.get("/")
    def index(req):
        return static("index.html")

    @app.get("/static/<path:name>")
    def assets(req, name):
        return static(name)
