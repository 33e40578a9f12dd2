"""A server that echoes each request as JSON; the HTTPTransport tests' peer.

GET /bytes/<n> answers n bytes; GET /headers?<Name>=<value>&… answers {} with those headers, values
as given (white space included); every other request gets {"method","path","query","headers","body",
"peer_port"} (the client's port tells one connection from another).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import App, Reply, serve


class EchoApp(App):
    name = "echo"

    def handle(self, request):
        if request.path.startswith("/bytes/"):
            return Reply(200, b"x" * int(request.path.split("/")[2]), content_type="application/octet-stream")
        if request.path == "/headers":
            return Reply(200, {}, headers=dict(request.query))
        return Reply(200, {
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": request.body.decode("utf-8", "replace"),
            "peer_port": request.peer[1] if request.peer else None,
        })


if __name__ == "__main__":
    serve(EchoApp())
