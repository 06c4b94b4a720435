#!/usr/bin/env python3
"""Signs one delivery with the reference Standard Webhooks library (PyPI `standardwebhooks`, a
client written by others) and POSTs it; prints the HTTP status. Test tooling only.

  webhook_send.py --url U --secret whsec_... --id msg_1 --body-file f.json
      [--timestamp UNIX] [--tamper] [--drop HEADER] [--content-type T]
"""
import argparse
import datetime
import ssl
import sys
import urllib.error
import urllib.request

from standardwebhooks.webhooks import Webhook

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--secret", required=True)
ap.add_argument("--id", required=True)
ap.add_argument("--body-file", required=True)
ap.add_argument("--timestamp", type=int)
ap.add_argument("--tamper", action="store_true", help="change the body after signing")
ap.add_argument("--drop", action="append", default=[], help="leave this header out")
ap.add_argument("--content-type", default="application/json")
ap.add_argument("--cafile", help="verify an HTTPS receiver against this CA")
a = ap.parse_args()

body = open(a.body_file, "rb").read()
ts = a.timestamp if a.timestamp is not None else int(datetime.datetime.now(datetime.timezone.utc).timestamp())
when = datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc)
signature = Webhook(a.secret).sign(a.id, when, body.decode("utf-8", "surrogateescape"))
if a.tamper:
    body = body.replace(b"PRODUCTION", b"QUALITY")
headers = {"webhook-id": a.id, "webhook-timestamp": str(ts), "webhook-signature": signature, "content-type": a.content_type}
for h in a.drop:
    headers.pop(h, None)
req = urllib.request.Request(a.url, data=body, headers=headers, method="POST")
try:
    context = ssl.create_default_context(cafile=a.cafile) if a.cafile else None
    with urllib.request.urlopen(req, timeout=15, context=context) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception as e:  # connection refused, reset
    print("error", e, file=sys.stderr)
    print(0)
