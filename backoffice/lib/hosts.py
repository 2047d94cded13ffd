"""Host names and IP addresses typed by people (PABX server, webhook URLs)."""
from __future__ import annotations

import ipaddress
import re

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def normalise_host(value: str) -> str | None:
    """A host name (lower case, IDNA for accented names) or an IP address in its
    canonical form; None when the text is neither.

    "300.1.1.1" is refused rather than taken for a name: a top-level label is never all
    digits (RFC 3696), so a dotted number is an address or nothing.
    """
    text = (value or "").strip()
    if not text:
        return None
    candidate = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        pass
    name = text.lower()
    name = name[:-1] if name.endswith(".") else name  # "pabx.example.com." (FQDN)
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        return None
    if labels[-1].isdigit():
        return None
    return name
