"""Personal data never stored or published in the clear: client addresses become salted hashes.

A client is identified by its /32 (IPv4) or /64 (IPv6) network, because an IPv6 host picks
addresses freely within its /64; rate limits keyed on the full address would be trivial to dodge.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress


def client_network(address: str) -> str:
    """The network a rate limit should key on; unparseable input is kept as-is."""
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return address.strip()
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def hash_address(secret: bytes, address: str) -> str:
    """Salted (HMAC-SHA256 with the per-site secret) hash of the client's network."""
    if not address:
        return ""
    digest = hmac.new(secret, client_network(address).encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def hash_email(secret: bytes, email: str) -> str:
    """Keyed hash of an e-mail for identicons: stable per person, useless off this site."""
    normalized = email.strip().lower()
    return hmac.new(secret, normalized.encode(), hashlib.sha256).hexdigest()
