"""What the partner simulators share: a quiet HTTP/1.1 handler that answers and closes, the
delay and fail-every fault switches, and serving on 127.0.0.1 over TLS (optionally demanding a
client certificate). Standard library only."""
import base64, json, pickle, ssl, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


# TLS connections served and how many resumed an earlier session (GET /_sim/tls where a
# simulator offers it): what a client's session cache saves is visible to a test.
TLS_STATS = {"connections": 0, "resumed": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        reused = getattr(self.connection, "session_reused", None)
        if reused is not None:
            TLS_STATS["connections"] += 1
            TLS_STATS["resumed"] += 1 if reused else 0

    def log_message(self, *args):
        pass

    def send(self, status, data, content_type, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def reply(self, status, payload=None, headers=()):
        """A JSON answer (or an empty one)."""
        self.send(status, b"" if payload is None else json.dumps(payload).encode(), "application/json", headers)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""


def injected_failure(faults, calls, default_status):
    """The fault switches every simulator shares: `delay` seconds before answering, and every
    `fail_every`-th call failing with `status` (default_status when not set). Returns the
    status to fail with, or None."""
    if faults.get("delay"):
        time.sleep(float(faults["delay"]))
    every = int(faults.get("fail_every") or 0)
    if every and calls % every == 0:
        return int(faults.get("status", default_status))
    return None


# What a simulator keeps of a partner's own state (not its configuration): saved and restored as a
# whole by a test that replays one day many times from the same start (the crash tests).
def snapshot(sim, fields):
    with sim.lock:
        return {"state": base64.b64encode(pickle.dumps({f: getattr(sim, f) for f in fields})).decode()}


def restore(sim, fields, payload):
    state = pickle.loads(base64.b64decode(json.loads(payload)["state"]))
    with sim.lock:
        for f in fields:
            setattr(sim, f, state[f])
    return {"restored": sorted(fields)}


class Server(ThreadingHTTPServer):
    """A partner's server takes many clients at once: a deep accept queue (the default of 5 drops
    connections, and the client's SYN retransmits cost whole seconds), and each TLS handshake in
    its connection's own thread, not in the accept loop, where one slow handshake holds up the rest."""

    request_queue_size = 128
    daemon_threads = True
    tls = None

    def get_request(self):
        sock, address = self.socket.accept()
        if self.tls:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def finish_request(self, request, client_address):
        if self.tls:
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError):
                return  # a client that refused our certificate (a test of that): nothing to serve
        super().finish_request(request, client_address)


def serve(handler, port, cert=None, key=None, client_ca=None):
    """Serves until SIGTERM; TLS when a certificate is given, a client certificate when a CA is."""
    server = Server(("127.0.0.1", port), handler)
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(client_ca)
        server.tls = ctx
    server.serve_forever()
