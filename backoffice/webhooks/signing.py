"""The signature of a webhook delivery (WHK-1).

Each POST carries `X-Atende-Signature: t=<unix seconds>,v1=<hex>`, where the hex is the
HMAC-SHA256, keyed with the webhook's secret, of `f"{t}."` followed by the raw body bytes.
The time is inside the signed text, so a captured request cannot be replayed later than
the receiver's tolerance; a retry or "Reenviar" signs the same body again with a new time.

PYTHON_SNIPPET and JAVASCRIPT_SNIPPET are what the API documentation page shows to
integrators: self-contained, the standard library (Python) or Node's crypto only, and
tests/test_webhook_deliveries.py runs the Python one against a real delivery.
"""
from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Atende-Signature"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode("utf-8"), f"{int(timestamp)}.".encode() + body,
                      hashlib.sha256).hexdigest()
    return f"t={int(timestamp)},v1={digest}"


PYTHON_SNIPPET = '''\
import hashlib
import hmac
import time


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """True when `header` (X-Atende-Signature) signs `body` (the raw request bytes,
    before any JSON parsing) with `secret`, and was made within `tolerance` seconds."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        received = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received)
'''

JAVASCRIPT_SNIPPET = '''\
const crypto = require("crypto");

// rawBody: the request body as a Buffer, before any JSON parsing
// (in Express: express.raw({ type: "application/json" })).
function verify(secret, header, rawBody, tolerance = 300) {
  const parts = Object.fromEntries(
    String(header || "").split(",").map((item) => {
      const i = item.indexOf("=");
      return [item.slice(0, i), item.slice(i + 1)];
    })
  );
  const timestamp = Number.parseInt(parts.t, 10);
  if (!Number.isFinite(timestamp) || !parts.v1) return false;
  if (Math.abs(Date.now() / 1000 - timestamp) > tolerance) return false;
  const expected = crypto
    .createHmac("sha256", secret)
    .update(Buffer.concat([Buffer.from(`${timestamp}.`), rawBody]))
    .digest("hex");
  const received = Buffer.from(parts.v1, "utf8");
  const wanted = Buffer.from(expected, "utf8");
  return received.length === wanted.length && crypto.timingSafeEqual(received, wanted);
}

module.exports = { verify };
'''
