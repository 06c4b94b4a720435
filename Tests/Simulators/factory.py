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
                     "drop_after_accept": bool, "echo_credentials": bool}
     every N-th order request fails with `status` (503 carries Retry-After), or the first N requests
     of each Idempotency-Key do (the same fate for every order, whatever the order of the calls), or
     it waits `delay` seconds, or is accepted and then the connection is closed without an answer;
     echo_credentials: every order is refused (422) with an error that repeats the Authorization
     header it came with, as a careless proxy or partner does.
  GET  /_sim/requests  {"<key>": {"requests": n, "placed": bool}}
  GET  /_sim/state, PUT /_sim/state   the orders, counts and faults, saved and put back as a whole
  GET  /_sim/tls       {"connections": n, "resumed": n}: TLS connections, and those that resumed a session

Status webhooks (the factory pushes; README "Status webhooks"), with --webhook-url and --webhook-secret:
  POST /_sim/push {"status_file": path} | {"events": [{order_ref, factory_order, code, at, vin?, eta?, plant?}]}
     signs each event as Standard Webhooks 1.0 says (webhook-id the event's id, the same on every
     retry) and POSTs it, retrying anything but 2xx with back-off, in the background; a status
     file's events are its <Event> elements (pushed as they happened, before the file is sent)
  GET  /_sim/pushes    {"<webhook-id>": {"attempts": n, "status": last, "delivered": bool}}

  python3 factory.py --port P --token T --order-book order-book.csv [--cert server.pem --key server.key]
                     [--webhook-url URL --webhook-secret whsec_...]
Stops on SIGTERM. Standard library only.
"""
import argparse, base64, csv, hashlib, hmac, json, threading, time, urllib.error, urllib.request
import xml.etree.ElementTree as ET

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


class Pusher:
    """Signs and posts status events to the gateway's receiver, retrying until a 2xx."""

    def __init__(self, url, secret, attempts=8):
        self.url, self.attempts = url, attempts
        self.key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
        self.lock = threading.Lock()
        self.pushes = {}

    @staticmethod
    def events_of(path):
        ns = {"m": "urn:oem:mfg:status:1"}
        root = ET.parse(path).getroot()
        plant = root.get("plant")
        for e in root.findall("m:Event", ns):
            text = lambda tag: (e.findtext("m:" + tag, default="", namespaces=ns) or "").strip()
            yield {"order_ref": text("OrderRef"), "factory_order": text("FactoryOrder"), "code": text("Code"),
                   "at": text("At"), "vin": text("Vin"), "eta": text("EstimatedCompletion"), "plant": plant}

    def body(self, ev):
        evt = "evt_" + hashlib.sha256(f"{ev['order_ref']}|{ev['code']}|{ev['at']}".encode()).hexdigest()[:20]
        at = ev["at"]
        # The webhook speaks UTC; the files speak the plant's local time: the same instant.
        if len(at) > 19 and at[19] in "+-":
            from datetime import datetime, timezone
            at = datetime.fromisoformat(at).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        data = {"plant": ev.get("plant") or "VLC1", "order_ref": ev["order_ref"], "factory_order": ev["factory_order"],
                "code": ev["code"]}
        if ev.get("vin"):
            data["vin"] = ev["vin"]
        if ev.get("eta"):
            data["estimated_completion"] = ev["eta"]
        return evt, json.dumps({"type": "manufacturing.status", "id": evt, "occurred_at": at, "data": data}).encode()

    def send(self, msg_id, body):
        delay = 0.05
        for attempt in range(1, self.attempts + 1):
            ts = str(int(time.time()))
            mac = hmac.new(self.key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
            req = urllib.request.Request(self.url, data=body, method="POST", headers={
                "content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": ts,
                "webhook-signature": "v1," + base64.b64encode(mac).decode()})
            try:
                with urllib.request.urlopen(req, timeout=15) as r:
                    status = r.status
            except urllib.error.HTTPError as e:
                status = e.code
            except Exception:
                status = 0
            with self.lock:
                self.pushes[msg_id] = {"attempts": attempt, "status": status, "delivered": 200 <= status < 300}
            if 200 <= status < 300:
                return
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def push(self, events):
        """Sends in order, one after the other, and returns when every event was answered 2xx or gave up."""
        ids = []
        for ev in events:
            msg_id, body = self.body(ev)
            ids.append(msg_id)
            self.send(msg_id, body)
        return ids


def handler(factory, pusher=None):
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
            if self.path == "/_sim/pushes" and pusher:
                with pusher.lock:
                    return self.reply(200, dict(pusher.pushes))
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
            if self.path == "/_sim/push":
                if not pusher:
                    return self.reply(409, {"error": "started without --webhook-url"})
                ask = json.loads(raw or b"{}")
                events = list(Pusher.events_of(ask["status_file"])) if "status_file" in ask else ask.get("events", [])
                ids = pusher.push(events)
                with pusher.lock:
                    delivered = sum(1 for i in ids if pusher.pushes.get(i, {}).get("delivered"))
                return self.reply(200, {"pushed": len(ids), "delivered": delivered, "ids": ids})
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
            if faults.get("echo_credentials"):
                said = self.headers.get("Authorization")
                return self.reply(422, {"error": f"order refused; the request carried Authorization: {said}", "field": "Authorization"})
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
    ap.add_argument("--webhook-url")
    ap.add_argument("--webhook-secret")
    a = ap.parse_args()
    with open(a.order_book, newline="") as f:
        book = {r["order_ref"]: (r["factory_order"], r["plant"], r["estimated_delivery"]) for r in csv.DictReader(f)}
    pusher = Pusher(a.webhook_url, a.webhook_secret) if a.webhook_url and a.webhook_secret else None
    simhttp.serve(handler(Factory(a.token, book), pusher), a.port, a.cert, a.key)


if __name__ == "__main__":
    main()
