#!/usr/bin/env python3
"""The end-to-end test's webhook receiver: every POST body is written to
FOLDER/<n>.json (atomically); it binds a port the system picks and writes it to
FOLDER/hooks.port, so nothing races for a port.

    python3 tests/e2e/receiver.py FOLDER
"""

import http.server
import os
import sys

FOLDER = sys.argv[1]


class Hook(http.server.BaseHTTPRequestHandler):
    n = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Hook.n += 1
        tmp = os.path.join(FOLDER, f".{Hook.n}.tmp")
        with open(tmp, "wb") as f:
            f.write(body)
        os.rename(tmp, os.path.join(FOLDER, f"{Hook.n}.json"))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
tmp = os.path.join(FOLDER, ".port")
with open(tmp, "w") as f:
    f.write(str(server.server_port))
os.rename(tmp, os.path.join(FOLDER, "hooks.port"))
server.serve_forever()
