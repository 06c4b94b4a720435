#!/usr/bin/env python3
"""Factory order API simulator (the partner contract in shared/partners/README.md, "Order API").

  POST /v1/orders   Authorization: Bearer <token>, Idempotency-Key: <sale reference>
    201 {"order_id", "plant", "estimated_delivery"}   placed (ids from the recorded order book,
                                                       new ids for sales the book does not know)
    200 same body                                      the same key again with the same request
    409 {"error"}                                      the key was used with another request
    422 {"error", "field"}                             unknown platform or option
    401                                                missing or wrong token

Test switches (never part of the partner's API):
  POST /_sim/faults {"fail_every": N, "fail_first_per_key": N, "status": 503|500, "retry_after": S, "delay": S,
                     "drop_after_accept": bool}
     every N-th order request fails with `status` (503 carries Retry-After), or the first N requests
     of each Idempotency-Key do (the same fate for every order, whatever the order of the calls), or
     it waits `delay` seconds, or is accepted and then the connection is closed without an answer.
  GET  /_sim/requests  {"<key>": {"requests": n, "placed": bool}}
  GET  /_sim/state, PUT /_sim/state   the orders, counts and faults, saved and put back as a whole
  GET  /_sim/tls       {"connections": n, "resumed": n}: TLS connections, and those that resumed a session

  python3 factory.py --port P --token T --order-book order-book.csv [--cert server.pem --key server.key]
Stops on SIGTERM. Standard library only.
"""
import argparse, csv, json, threading

import simhttp

PLATFORMS = {"BASE-URBAN", "BASE-FAMILY", "BASE-SPORT"}
OPTIONS = {"HEATED-SEATS", "ADAPTIVE-CRUISE", "PREMIUM-AUDIO", "AUTOPARK", "TOWBAR", "WINTER-PACK"}


class Factory:
    STATE = ("placed", "requests", "faults", "calls", "next_id")

    def __init__(self, token, book):
        self.token = token
        self.book = book  # order_ref -> (factory_order, plant, eta)
        self.lock = threading.Lock()
        self.placed = {}  # key -> (request body, response body)
        self.requests = {}  # key -> count
        self.faults = {}
        self.calls = 0
        self.next_id = {"VLC1": 9000, "ZWK2": 9000}

    def place(self, key, body):
        with self.lock:
            if key in self.placed:
                first, response = self.placed[key]
                return (200, response) if first == body else (409, {"error": "Idempotency-Key reused with a different request"})
            ref = body.get("customer_order_ref", "")
            if ref in self.book:
                order_id, plant, eta = self.book[ref]
            else:
                plant = "ZWK2" if body.get("dealer_code", "").startswith(("DE-", "IT-")) else "VLC1"
                self.next_id[plant] += 1
                order_id, eta = f"FO-{plant}-{self.next_id[plant]:07d}", "2026-12-15"
            response = {"order_id": order_id, "plant": plant, "estimated_delivery": eta}
            self.placed[key] = (body, response)
            return 201, response


def handler(factory):
    class Handler(simhttp.Handler):
        def do_GET(self):
            if self.path == "/_sim/requests":
                with factory.lock:
                    out = {k: {"requests": n, "placed": k in factory.placed} for k, n in factory.requests.items()}
                return self.reply(200, out)
            if self.path == "/_sim/state":
                return self.reply(200, simhttp.snapshot(factory, Factory.STATE))
            if self.path == "/_sim/tls":
                return self.reply(200, dict(simhttp.TLS_STATS))
            self.reply(404, {"error": "not found"})

        def do_PUT(self):
            if self.path != "/_sim/state":
                return self.reply(404, {"error": "not found"})
            self.reply(200, simhttp.restore(factory, Factory.STATE, self.read_body()))

        def do_POST(self):
            raw = self.read_body()
            if self.path == "/_sim/faults":
                factory.faults = json.loads(raw or b"{}")
                return self.reply(200, factory.faults)
            if self.path != "/v1/orders":
                return self.reply(404, {"error": "not found"})
            if self.headers.get("Authorization") != f"Bearer {factory.token}":
                return self.reply(401, {"error": "missing or wrong bearer token"})
            key = self.headers.get("Idempotency-Key")
            if not key:
                return self.reply(400, {"error": "Idempotency-Key is required", "field": "Idempotency-Key"})
            with factory.lock:
                factory.requests[key] = factory.requests.get(key, 0) + 1
                factory.calls += 1
                calls, faults = factory.calls, dict(factory.faults)
            status = simhttp.injected_failure(faults, calls, 503)
            if not status and factory.requests[key] <= int(faults.get("fail_first_per_key") or 0):
                status = int(faults.get("status", 503))
            if status:
                headers = [("Retry-After", str(faults.get("retry_after", 1)))] if status == 503 else []
                return self.reply(status, {"error": "plant MES busy" if status == 503 else "internal error"}, headers)
            try:
                body = json.loads(raw)
            except ValueError:
                return self.reply(400, {"error": "body is not JSON"})
            if body.get("base_platform") not in PLATFORMS:
                return self.reply(422, {"error": "unknown platform", "field": "base_platform"})
            for option in body.get("options", []):
                if option not in OPTIONS:
                    return self.reply(422, {"error": f"unknown option {option}", "field": "options"})
            status, response = factory.place(key, body)
            if faults.get("drop_after_accept") and status == 201:
                self.close_connection = True
                self.connection.shutdown(2)  # accepted, then the line went dead
                return
            self.reply(status, response)

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--order-book", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    a = ap.parse_args()
    with open(a.order_book, newline="") as f:
        book = {r["order_ref"]: (r["factory_order"], r["plant"], r["estimated_delivery"]) for r in csv.DictReader(f)}
    simhttp.serve(handler(Factory(a.token, book)), a.port, a.cert, a.key)


if __name__ == "__main__":
    main()
