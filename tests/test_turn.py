"""TURN credentials (rapport.lib.turn), checked by hand and by a real coturn on loopback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint

from rapport.lib.config import ConfigError
from rapport.lib.turn import check_ice_settings, ice_servers, user_reference
from tests.turn import TurnServer, turn  # noqa: F401 (the fixture)

SECRET = "test-turn-secret"
TURN_URLS = ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"]
NOW = 1_700_000_000.75


@pytest.fixture
def ice(settings: Any) -> Any:
    settings.RAPPORT_STUN_URLS = ["stun:stun.example.org:3478"]
    settings.RAPPORT_TURN_URLS = TURN_URLS
    settings.RAPPORT_TURN_SECRET = SECRET
    settings.RAPPORT_TURN_TTL_SECONDS = 3600
    return settings


def test_no_ice_servers_by_default(settings: Any) -> None:
    settings.RAPPORT_STUN_URLS = []
    settings.RAPPORT_TURN_URLS = []
    assert ice_servers(7, now=NOW) == []


def test_stun_only_carries_no_credentials(ice: Any) -> None:
    ice.RAPPORT_TURN_URLS = []
    assert ice_servers(7, now=NOW) == [{"urls": ["stun:stun.example.org:3478"]}]


def test_turn_credentials_follow_the_rest_convention(ice: Any) -> None:
    stun_server, turn_server = ice_servers(7, now=NOW)
    assert stun_server == {"urls": ["stun:stun.example.org:3478"]}
    assert turn_server["urls"] == TURN_URLS
    expiry, reference = turn_server["username"].split(":")
    assert int(expiry) == 1_700_000_000 + 3600
    # coturn recomputes exactly this from the username and its static-auth-secret.
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), turn_server["username"].encode(), hashlib.sha1).digest()
    ).decode()
    assert turn_server["credential"] == expected
    assert reference == user_reference(7)


def test_ttl_sets_the_expiry(ice: Any) -> None:
    ice.RAPPORT_TURN_TTL_SECONDS = 600
    turn_server = ice_servers(7, now=NOW)[1]
    assert turn_server["username"].startswith(f"{1_700_000_000 + 600}:")


def test_default_clock_is_now(ice: Any) -> None:
    before = int(time.time())
    expiry = int(ice_servers(7)[1]["username"].split(":")[0])
    assert before + 3600 <= expiry <= int(time.time()) + 3600


def test_user_reference_is_opaque_and_stable(ice: Any) -> None:
    reference = user_reference(7)
    assert len(reference) == 20
    assert int(reference, 16) >= 0  # hex
    assert reference == user_reference(7)
    assert reference != user_reference(8)
    # Not the id, nor an unkeyed hash of it that anyone could recompute.
    assert reference not in {"7", hashlib.sha256(b"7").hexdigest()[:20]}
    # Keyed by the secret key: nobody holding only the TURN secret can map it back to an id.
    ice.SECRET_KEY = "another secret key for this test only"
    assert user_reference(7) != reference


@pytest.mark.parametrize(
    ("stun_urls", "turn_urls", "secret", "ttl", "policy", "message"),
    [
        ([], ["turn:t.example.org"], "", 3600, "all", "RAPPORT_TURN_SECRET is not"),
        ([], [], "", 3600, "everything", "must be 'all' or 'relay'"),
        ([], [], "", 3600, "relay", "relay needs RAPPORT_TURN_URLS"),
        (["turn:t.example.org"], [], "", 3600, "all", "must start with stun:"),
        ([], ["stun:t.example.org"], "s", 3600, "all", "must start with turn:"),
        ([], ["turn:t.example.org"], "s", 10, "all", "at least 60"),
    ],
)
def test_unusable_ice_settings_are_refused(
    stun_urls: list[str], turn_urls: list[str], secret: str, ttl: int, policy: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        check_ice_settings(stun_urls, turn_urls, secret, ttl, policy)


def test_usable_ice_settings_pass() -> None:
    check_ice_settings([], [], "", 3600, "all")
    check_ice_settings(["stun:s.example.org"], ["turns:t.example.org:5349"], "s", 60, "relay")


def test_production_refuses_turn_without_a_secret(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RAPPORT_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        RAPPORT_ENV="production",
        RAPPORT_DATA_DIR=str(tmp_path),
        RAPPORT_SECRET_KEY="x" * 50,
        RAPPORT_ENCRYPTION_KEYS="unused-here",
        RAPPORT_TURN_URLS="turn:turn.example.org:3478",
    )
    result = subprocess.run(
        [sys.executable, "-c", "import rapport.settings"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "ConfigError: RAPPORT_TURN_URLS is set but RAPPORT_TURN_SECRET is not" in result.stderr


# --- Against a real coturn -----------------------------------------------------------------------


class Peer(asyncio.DatagramProtocol):
    """A UDP endpoint on loopback that keeps what it receives, and from where."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait((data, addr))


def _udp_server(turn_server: dict[str, Any]) -> tuple[str, int]:
    url = next(u for u in turn_server["urls"] if u.endswith("transport=udp"))
    parts = urlsplit(url.replace("turn:", "turn://", 1))
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


async def _allocate_and_relay(turn_server: dict[str, Any]) -> tuple[tuple[str, int], bytes]:
    """Allocate with ``turn_server``'s credentials; send one datagram through the relay to a
    local peer. Returns (relayed address, what the peer received from it)."""
    loop = asyncio.get_running_loop()
    peer_transport, peer = await loop.create_datagram_endpoint(Peer, local_addr=("127.0.0.1", 0))
    try:
        relay, _ = await create_turn_endpoint(
            asyncio.DatagramProtocol,
            server_addr=_udp_server(turn_server),
            username=turn_server["username"],
            password=turn_server["credential"],
            lifetime=60,
        )
        try:
            relayed = relay.get_extra_info("sockname")
            relay.sendto(b"hello through the relay", peer_transport.get_extra_info("sockname"))
            data, source = await asyncio.wait_for(peer.received.get(), timeout=10)
            assert source == relayed
            return relayed, data
        finally:
            relay.close()
            await asyncio.sleep(0.2)  # let the allocation's deletion go out
    finally:
        peer_transport.close()


def _refusal(turn_server: dict[str, Any]) -> int:
    """The STUN error code coturn answers an Allocate with these credentials."""

    async def attempt() -> int:
        with pytest.raises(stun.TransactionFailed) as refused:
            await asyncio.wait_for(_allocate_and_relay(turn_server), timeout=15)
        code = refused.value.response.error_code
        assert code is not None
        return code

    return asyncio.run(attempt())


@pytest.fixture
def real_turn(settings: Any, turn: TurnServer) -> TurnServer:  # noqa: F811
    settings.RAPPORT_STUN_URLS = []
    settings.RAPPORT_TURN_URLS = turn.urls
    settings.RAPPORT_TURN_SECRET = turn.secret
    settings.RAPPORT_TURN_TTL_SECONDS = 3600
    return turn


def test_coturn_relays_with_rapport_credentials(real_turn: TurnServer) -> None:
    [turn_server] = ice_servers(7)
    relayed, data = asyncio.run(_allocate_and_relay(turn_server))
    assert relayed[0] == "127.0.0.1"
    assert relayed[1] in real_turn.relay_ports
    assert data == b"hello through the relay"


def test_coturn_refuses_an_expired_credential(real_turn: TurnServer) -> None:
    [turn_server] = ice_servers(7, now=time.time() - 3600 - 120)
    assert _refusal(turn_server) == 401


def test_coturn_refuses_a_credential_made_with_another_secret(
    real_turn: TurnServer, settings: Any
) -> None:
    settings.RAPPORT_TURN_SECRET = "not-the-servers-secret"
    [turn_server] = ice_servers(7)
    assert _refusal(turn_server) == 401


def test_coturn_refuses_a_tampered_username(real_turn: TurnServer) -> None:
    [turn_server] = ice_servers(7)
    expiry, reference = turn_server["username"].split(":")
    # A later expiry with the old password: the HMAC no longer matches.
    turn_server["username"] = f"{int(expiry) + 86400}:{reference}"
    assert _refusal(turn_server) == 401
