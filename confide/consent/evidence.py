"""Evidence of a choice, minimised (TRK1).

* `text_sha256`: the exact text shown when the choice was made, hashed, so the ledger proves
  what was agreed to without copying the text into every row.
* `network_prefix`: a visitor's address cut to its network (/24 for IPv4, /48 for IPv6), the
  precision of a town, not of a household, and never the address itself.
* `browser_family`: "Firefox", "Chrome", …: enough to tell a browser from a script, far from
  the full user-agent string that helps fingerprint a person.
"""

from __future__ import annotations

import hashlib
import ipaddress

IPV4_PREFIX = 24
IPV6_PREFIX = 48

# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
_FAMILIES = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome", "Chrome (headless)"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chrome"),
    ("Safari/", "Safari"),
)
_SCRIPTS = ("bot", "crawler", "spider", "curl/", "wget/", "python", "httpx", "go-http-client", "java/")


def text_sha256(text: str) -> str:
    return hashlib.sha256(str(text).encode()).hexdigest()


def network_prefix(address: str | None) -> str:
    """'203.0.113.77' -> '203.0.113.0/24'; an IPv6 address -> its /48; anything else -> ''."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def browser_family(user_agent: str | None) -> str:
    agent = (user_agent or "")[:512]
    if not agent:
        return ""
    lowered = agent.lower()
    if any(marker in lowered for marker in _SCRIPTS):
        return "script"
    for marker, family in _FAMILIES:
        if marker in agent:
            return family
    return "other"
