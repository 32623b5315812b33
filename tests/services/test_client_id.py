"""Client identity: HMAC-SHA256 of the address, never the raw IP; X-Forwarded-For only via trusted proxies."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from arena_app.services.app_services import AppServices
from arena_app.services.client_id import ClientIdentifier
from tests.services.helpers import drain, rows


def test_hash_is_salted_hmac_and_not_the_address() -> None:
    ident = ClientIdentifier("salt-1")
    got = ident.identify("203.0.113.9", {}, "browser-session")
    assert got.client_hash == hmac.new(b"salt-1", b"203.0.113.9", hashlib.sha256).hexdigest()
    assert "203.0.113.9" not in got.client_hash
    assert got.client_hash != ClientIdentifier("salt-2").identify("203.0.113.9", {}, "s").client_hash
    assert got.session_id == ident.identify("198.51.100.1", {}, "browser-session").session_id
    assert len(got.session_id) == 32 and "browser-session" not in got.session_id


def test_forwarded_for_ignored_from_untrusted_peer() -> None:
    ident = ClientIdentifier("s", ["10.0.0.0/8"])
    spoofed = ident.identify("203.0.113.9", {"X-Forwarded-For": "1.2.3.4"}, "k")
    direct = ident.identify("203.0.113.9", {}, "k")
    assert spoofed.client_hash == direct.client_hash


def test_forwarded_for_used_from_trusted_proxy_rightmost_untrusted_hop() -> None:
    ident = ClientIdentifier("s", ["10.0.0.0/8", "192.168.1.5"])
    expected = ident.hash_address("198.51.100.7")
    # client-controlled left part is ignored; trusted proxies on the right are skipped
    got = ident.identify("10.1.2.3", {"x-forwarded-for": "6.6.6.6, 198.51.100.7, 192.168.1.5"}, "k")
    assert got.client_hash == expected
    only_proxies = ident.identify("10.1.2.3", {"X-Forwarded-For": "10.9.9.9"}, "k")
    assert only_proxies.client_hash == ident.hash_address("10.9.9.9")
    no_header = ident.identify("10.1.2.3", {}, "k")
    assert no_header.client_hash == ident.hash_address("10.1.2.3")


def test_bad_proxy_setting_and_empty_salt_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="not an IP address or CIDR"):
        ClientIdentifier("s", ["not-an-ip"])
    with pytest.raises(ValueError, match="salt"):
        ClientIdentifier("")


def test_generated_salt_is_stable_and_db_never_holds_the_raw_ip(make_services, client) -> None:
    first = make_services(client_id_salt="")
    second = make_services(client_id_salt="")
    ip = "203.0.113.77"
    who = first.identify(ip, {}, "sess")
    assert who.client_hash == second.identify(ip, {}, "sess").client_hash  # salt generated once (a file)
    assert who.client_hash != ClientIdentifier("test-salt").hash_address(ip)
    services: AppServices = first
    state = services.battle.new_state()
    drain(services.battle.send(state, "hello", who))
    services.battle.vote(state, "a", who)
    for table in ("conversations", "battles", "votes"):
        for row in rows(services, f"SELECT * FROM {table}"):
            assert ip not in " ".join(str(v) for v in row.values())
            assert row["client_hash"] == who.client_hash
