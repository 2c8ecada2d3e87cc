"""The API's bind rule and key comparison (pure functions, no server)."""

from __future__ import annotations

import pytest

from serving.api.deps import key_matches
from serving.api.server import UnsafeBindError, check_bind, is_loopback
from serving.settings import Settings


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
        ("LOCALHOST", True), ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False), ("::", False), ("", False), ("10.0.0.1", False), ("192.168.1.10", False),
        ("example.com", False), ("localhost.evil.com", False), ("128.0.0.1", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_check_bind_needs_keys_beyond_loopback():
    with pytest.raises(UnsafeBindError, match="TRIAGE_API_KEYS"):
        check_bind("0.0.0.0", Settings(api_keys=""))
    check_bind("127.0.0.1", Settings(api_keys=""))
    check_bind("0.0.0.0", Settings(api_keys="k"))


@pytest.mark.parametrize(
    ("candidate", "keys", "ok"),
    [("a", ["a", "b"], True), ("b", ["a", "b"], True), ("c", ["a", "b"], False), ("", ["a"], False),
     ("ключ", ["a"], False), ("ключ", ["ключ"], True), ("a", [], False), ("ab", ["a"], False)],
)
def test_key_matches(candidate, keys, ok):
    assert key_matches(candidate, keys) is ok
