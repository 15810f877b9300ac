"""SSRF protection (SPEC §11): what a webhook URL may point at, checked at creation and
on the address actually connected to at every attempt."""

from __future__ import annotations

import pytest

from tenant_apps.integrations import destinations
from tenant_apps.integrations.destinations import DestinationRefused, address_refused, check_url
from tests.support import bearer_client, error_of

ENDPOINTS = "/api/v1/webhooks/endpoints/"


@pytest.fixture
def strict(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = False


@pytest.fixture
def fake_dns(monkeypatch):
    """Replace the one resolver the client uses; names map to address lists."""
    table: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("no such host")
        return table[host]

    monkeypatch.setattr(destinations, "resolve", resolve)
    return table


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "2001:db8::1",
    ],
)
def test_non_public_addresses_are_refused(address):
    assert address_refused(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    assert address_refused(address) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("not a url", "https"),
        ("https://", "https"),
        ("ftp://example.com/", "https"),
        ("http://example.com/hook", "https://"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://10.0.0.5/hook", "private"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::ffff:10.0.0.1]/hook", "private"),
        ("https://user:pw@hooks.example.test/", "user name"),
        ("https://hooks.example.test:99999/", "valid URL"),
    ],
)
def test_check_url_refuses(strict, fake_dns, url, why):
    fake_dns["hooks.example.test"] = ["93.184.216.34"]
    with pytest.raises(DestinationRefused) as excinfo:
        check_url(url)
    assert why in str(excinfo.value)


def test_a_name_resolving_to_a_private_address_is_refused(strict, fake_dns):
    fake_dns["internal.example.test"] = ["93.184.216.34", "10.0.0.7"]  # one bad one is enough
    with pytest.raises(DestinationRefused, match="private"):
        check_url("https://internal.example.test/hook")
    fake_dns["nowhere.example.test"] = []
    with pytest.raises(DestinationRefused, match="does not resolve"):
        check_url("https://nowhere.example.test/hook")
    with pytest.raises(DestinationRefused, match="does not resolve"):
        check_url("https://unknown.example.test/hook")


def test_public_name_passes_and_the_checked_address_is_the_one_used(strict, fake_dns):
    fake_dns["hooks.example.test"] = ["93.184.216.34"]
    destination = check_url("https://Hooks.Example.Test./in?x=1")
    assert (destination.host, destination.address, destination.port, destination.path) == (
        "hooks.example.test",
        "93.184.216.34",
        443,
        "/in?x=1",
    )


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "http://hooks.example.test/",
        "https://127.0.0.1/",
        "https://10.1.1.1/",
        "https://169.254.169.254/",
        "https://[::1]/",
        "https://internal.example.test/",
    ],
)
def test_endpoint_creation_refuses_with_a_400(alpha, strict, fake_dns, url):
    fake_dns["hooks.example.test"] = ["93.184.216.34"]
    fake_dns["internal.example.test"] = ["192.168.0.10"]
    response = bearer_client(alpha, "owner").post(
        ENDPOINTS, {"url": url, "events": ["order.created"]}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "url" in error_of(response)["fields"]


def test_delivery_time_check_refuses_a_rebound_name(strict, fake_dns):
    """Public when the endpoint was made, private when the attempt connects: refused,
    as a failed attempt, with nothing sent."""
    fake_dns["rebind.example.test"] = ["93.184.216.34"]
    check_url("https://rebind.example.test/hook")
    fake_dns["rebind.example.test"] = ["127.0.0.1"]
    response = destinations.post("https://rebind.example.test/hook", body=b"{}", headers={})
    assert response.status_code is None and "loopback" in response.error


def test_the_connected_peer_is_checked_too(strict, monkeypatch, fake_dns):
    """Even if the check were fooled (here: the check passes a loopback address), the
    socket's peer address is checked after connect and before a byte is sent."""
    from tests.tenant_apps.integrations.receiver import Receiver

    receiver = Receiver().start()
    try:
        fake_dns["sneaky.example.test"] = ["127.0.0.1"]
        real = destinations.address_refused
        calls = {"n": 0}

        def fooled_once(address: str):
            calls["n"] += 1
            return None if calls["n"] == 1 else real(address)

        monkeypatch.setattr(destinations, "address_refused", fooled_once)
        monkeypatch.setattr(
            destinations,
            "parse_url",
            lambda url: ("http", "sneaky.example.test", receiver.port, "/ok"),
        )
        response = destinations.post("http://sneaky.example.test/ok", body=b"{}", headers={})
        assert response.status_code is None and "refused address" in response.error
        assert receiver.received() == []
    finally:
        receiver.stop()


def test_allow_private_lets_local_http_receivers_through(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = True
    assert check_url("http://127.0.0.1:18555/x").address == "127.0.0.1"
