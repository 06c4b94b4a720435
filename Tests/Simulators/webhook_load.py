#!/usr/bin/env python3
"""Load for `caas-gateway receive`: N signed deliveries (distinct webhook-ids) over C concurrent
keep-alive connections on loopback; prints deliveries per second and latency percentiles, and
exits 1 unless every delivery was answered 204. Standard library only; test tooling.

  webhook_load.py --host 127.0.0.1 --port P --path /webhooks/factory --secret whsec_... [-n 10000] [-c 50]
"""
import argparse, base64, hashlib, hmac, http.client, json, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--path", required=True)
ap.add_argument("--secret", required=True)
ap.add_argument("-n", type=int, default=10000)
ap.add_argument("-c", type=int, default=50)
a = ap.parse_args()
key = base64.b64decode(a.secret[6:] if a.secret.startswith("whsec_") else a.secret)

def delivery(i):
    body = json.dumps({"type": "manufacturing.status", "id": f"evt_load_{i}", "occurred_at": "2026-10-04T07:00:00Z",
                       "data": {"plant": "VLC1", "order_ref": f"S-LOAD-{i:06d}", "factory_order": f"FO-VLC1-{i:07d}",
                                "code": "ORDER_CONFIRMED", "estimated_completion": "2026-11-07"}}).encode()
    return f"msg_load_{i:06d}", body

lock = threading.Lock()
next_index = [0]
latencies, failures = [], []

def worker():
    conn = http.client.HTTPConnection(a.host, a.port, timeout=30)
    while True:
        with lock:
            i = next_index[0]
            if i >= a.n:
                break
            next_index[0] += 1
        msg_id, body = delivery(i)
        ts = str(int(time.time()))
        sig = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
        headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": "v1," + sig}
        start = time.perf_counter()
        try:
            conn.request("POST", a.path, body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            status = r.status
        except Exception:
            conn.close()
            conn = http.client.HTTPConnection(a.host, a.port, timeout=30)
            status = 0
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)
            if status != 204:
                failures.append((msg_id, status))
    conn.close()

start = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(a.c)]
for t in threads: t.start()
for t in threads: t.join()
wall = time.perf_counter() - start
latencies.sort()
pct = lambda p: latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000
print(f"webhook load: {a.n} deliveries, {a.c} connections: {a.n / wall:.0f} deliveries/s, "
      f"p50 {pct(0.50):.1f} ms, p99 {pct(0.99):.1f} ms, max {latencies[-1] * 1000:.1f} ms; not 204: {len(failures)}")
raise SystemExit(1 if failures else 0)
