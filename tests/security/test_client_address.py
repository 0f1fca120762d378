"""Who the client is (webapp.client_address): the peer, unless the peer is a trusted proxy; X-Forwarded-For is read
from the right through trusted hops only, so a header a visitor writes never becomes its identity."""

from __future__ import annotations

import pytest

from webapp.client_address import client_address, parse_networks
from webapp.config import ConfigError, load_config

pytestmark = pytest.mark.unit

PROXIES = parse_networks(["10.0.0.0/8", "::1"])


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() -> None:
    assert client_address("198.51.100.7", ["203.0.113.9"], ()) == "198.51.100.7"
    assert client_address("10.0.0.2", ["203.0.113.9"], ()) == "10.0.0.2"


def test_an_untrusted_peer_cannot_name_another_client() -> None:
    assert client_address("198.51.100.7", ["10.0.0.2, 203.0.113.9"], PROXIES) == "198.51.100.7"


def test_a_trusted_proxy_names_the_client_it_saw() -> None:
    assert client_address("10.0.0.2", ["203.0.113.9"], PROXIES) == "203.0.113.9"
    assert client_address("::1", ["2001:db8::5"], PROXIES) == "2001:db8::5"


def test_what_the_visitor_wrote_before_the_proxy_appended_is_ignored() -> None:
    """nginx appends the address it saw: everything left of it came from the visitor."""
    assert client_address("10.0.0.2", ["192.0.2.1, 192.0.2.2, 203.0.113.9"], PROXIES) == "203.0.113.9"
    assert client_address("10.0.0.2", ["192.0.2.1", "203.0.113.9"], PROXIES) == "203.0.113.9"  # two header lines


def test_a_chain_of_trusted_proxies_is_walked_to_the_first_untrusted_hop() -> None:
    assert client_address("10.0.0.2", ["192.0.2.1, 203.0.113.9, 10.1.2.3"], PROXIES) == "203.0.113.9"


def test_a_garbled_hop_stops_the_walk_at_the_last_address_believed() -> None:
    assert client_address("10.0.0.2", ["203.0.113.9, not-an-ip"], PROXIES) == "10.0.0.2"
    assert client_address("10.0.0.2", [], PROXIES) == "10.0.0.2"


def test_ipv4_mapped_peers_are_ipv4() -> None:
    assert client_address("::ffff:10.0.0.2", ["203.0.113.9"], PROXIES) == "203.0.113.9"
    assert client_address("::ffff:198.51.100.7", [], ()) == "198.51.100.7"


def test_a_bad_trusted_proxies_entry_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="not-a-network"):
        load_config(None, {"LIVECHECK_SERVER__TRUSTED_PROXIES": "10.0.0.0/8,not-a-network"})
    assert load_config(None, {"LIVECHECK_SERVER__TRUSTED_PROXIES": "10.0.0.0/8, ::1"}).server.trusted_proxies == (
        "10.0.0.0/8",
        "::1",
    )
