#!/usr/bin/python3
"""An HTTP server for tests that keeps every POST it receives as a file.

Listens on 127.0.0.1 (on --port, or a free one) and prints the port on stdout
once it accepts connections. Each POST becomes FOLDER/N.json:
{"path": ..., "content_type": ..., "body": ...}, written before the reply, which
has the status --status (200 unless told).
"""

import argparse
import http.server
import itertools
import json
import os
import threading


def make_handler(folder, status):
    numbers = itertools.count(1)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            record = {
                "path": self.path,
                "content_type": self.headers.get("Content-Type"),
                "body": self.rfile.read(length).decode("utf-8", errors="replace"),
            }
            with lock:
                path = os.path.join(folder, "%d.json" % next(numbers))
            # Written aside and renamed, so a reader never sees half a request.
            with open(path + ".part", "w", encoding="utf-8") as out:
                json.dump(record, out)
            os.replace(path + ".part", path)
            reply = b"recorded\n"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format, *args):  # the test's log stays quiet
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", required=True, help="where received requests go")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--status", type=int, default=200, help="the status of every reply")
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port),
                                             make_handler(args.folder, args.status))
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
