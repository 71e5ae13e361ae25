"""http_server.py - the loopback HTTP server of the curl tests: a real python3 http.server
on 127.0.0.1 (an ephemeral port), started and stopped by the test, counting the requests it
answers per path. Keep-alive (HTTP/1.1) with Nagle off and a buffered writer, so a response
leaves in one segment (../shared/NOTES.md: with two writes and Nagle a keep-alive request
waits ~40 ms for a delayed ACK).

Paths:
  /slow...        sleeps SLOW_S, then 200
  /abort...       sleeps ABORT_S (the client gives up first), then 200
  /status/N, /mstatus/N   answers status N
  /redirect       302 to /target
  anything else   200 with a small body (POST bodies are read and counted)
"""
import http.server
import socketserver
import threading
import time
from collections import Counter

SLOW_S = 0.060
ABORT_S = 0.5


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = -1  # buffered: headers and body leave together, flushed per request

    def log_message(self, fmt, *args):
        pass

    def _reply(self, status, body=b"ok\n", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _serve(self):
        path = self.path.split("?", 1)[0]
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.server.body_bytes += len(self.rfile.read(n))
        with self.server.lock:
            self.server.hits[(self.command, path)] += 1
        parts = path.strip("/").split("/")
        if parts[0] == "slow":
            time.sleep(SLOW_S)
            self._reply(200, b"slow\n")
        elif parts[0] == "abort":
            time.sleep(ABORT_S)
            self._reply(200)
        elif parts[0] in ("status", "mstatus") and len(parts) > 1 and parts[1].isdigit():
            self._reply(int(parts[1]), b"status\n")
        elif parts[0] == "redirect":
            self._reply(302, b"", headers=[("Location", "/target")])
        elif parts[0] == "items":
            self._reply(200, b'{"id": "%s"}\n' % parts[-1].encode())
        else:
            self._reply(200)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _serve


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: ten concurrent connects overflow it and the
    # kernel makes the rest retry their SYN after a second (intercept showed it as 1 s of
    # connect time). Tests open at most a few dozen at once.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass  # clients that give up (the abort test) make broken pipes: expected


def start():
    """Start the server on 127.0.0.1, port chosen by the kernel. Returns it; .port is the
    port, .hits counts (method, path) answered, .stop() shuts it down."""
    srv = Server(("127.0.0.1", 0), Handler)
    srv.hits = Counter()
    srv.body_bytes = 0
    srv.lock = threading.Lock()
    srv.port = srv.server_address[1]
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()

    def stop():
        srv.shutdown()
        srv.server_close()
        t.join(timeout=5)
    srv.stop = stop
    return srv


def closed_port():
    """A loopback port nobody listens on (bound, then closed: connections are refused)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
