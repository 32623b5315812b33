"""Client identity: a session id plus a salted hash of the client address. The raw address is never stored.

The hash is HMAC-SHA256(salt, address). ``X-Forwarded-For`` is honoured only when the direct peer is a
configured trusted proxy; then the right-most address that is not itself a trusted proxy is the client
(entries further left are client-controlled and cannot be trusted).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ClientIdentity:
    session_id: str
    client_hash: str


def parse_proxies(entries: Iterable[str]) -> list[IPNetwork]:
    """Parse addresses/CIDRs; raises ValueError naming the bad entry."""
    nets: list[IPNetwork] = []
    for entry in entries:
        try:
            nets.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(
                f"trusted proxy {entry!r} is not an IP address or CIDR (e.g. 10.0.0.1 or 10.0.0.0/8)"
            ) from exc
    return nets


def _is_trusted(address: str, proxies: list[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(peer: str | None, headers: Mapping[str, str], proxies: list[IPNetwork]) -> str:
    """The address to attribute a request to."""
    peer = (peer or "").strip() or "unknown"
    if not proxies or not _is_trusted(peer, proxies):
        return peer
    forwarded = ""
    for key, value in headers.items():
        if key.lower() == "x-forwarded-for":
            forwarded = value
            break
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer


class ClientIdentifier:
    """Turns (peer, headers, session key) into a :class:`ClientIdentity`."""

    def __init__(self, salt: str, trusted_proxies: Iterable[str] = ()) -> None:
        if not salt:
            raise ValueError("client id salt must not be empty")
        self._salt = salt.encode()
        self._proxies = parse_proxies(trusted_proxies)

    def hash_address(self, address: str) -> str:
        return hmac.new(self._salt, address.encode(), hashlib.sha256).hexdigest()

    def session_id(self, session_key: str | None) -> str:
        """A fixed-length session id derived from the browser session key (random if there is none)."""
        key = session_key or secrets.token_hex(16)
        return hmac.new(self._salt, b"session:" + key.encode(), hashlib.sha256).hexdigest()[:32]

    def identify(
        self, peer: str | None, headers: Mapping[str, str], session_key: str | None
    ) -> ClientIdentity:
        address = client_address(peer, headers, self._proxies)
        return ClientIdentity(session_id=self.session_id(session_key), client_hash=self.hash_address(address))
