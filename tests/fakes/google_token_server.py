"""A loopback OAuth 2.0 token endpoint for Google service-account credentials (google-auth's JWT grant),
and a helper that writes a service-account key file pointing at it.

With ``GOOGLE_APPLICATION_CREDENTIALS`` set to that file, ``google.auth.default()`` (which the Vertex SDK
clients call at their first request) signs a JWT with the file's private key and POSTs it to the file's
``token_uri``, exactly as it would to ``https://oauth2.googleapis.com/token``; the fake checks the grant,
verifies the JWT's signature with the matching public key and answers with an access token::

    with GoogleTokenServer() as tokens:
        key_file = service_account_file(tmp_path, tokens.token_uri, project="arena-test")
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
        ...  # requests to the Vertex fake carry "Authorization: Bearer <tokens.access_token>"

``refuse=True`` answers like Google for a revoked key (HTTP 400 ``invalid_grant``).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.sse_server import FakeServer, RecordedRequest, Reply, _Handler

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_KEYS: dict[str, rsa.RSAPrivateKey] = {}


def service_account_file(directory: Path, token_uri: str, *, project: str = "arena-test") -> Path:
    """Write a service-account key file (a fresh RSA key) whose token_uri is ``token_uri``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    _KEYS[token_uri] = key
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "fake-key-id",
        "private_key": pem,
        "client_email": f"arena@{project}.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_uri,
    }
    path = directory / "service-account.json"
    path.write_text(json.dumps(info), encoding="utf-8")
    return path


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


class GoogleTokenServer(FakeServer):
    """``POST /token``: the JWT-bearer grant of google-auth's service-account credentials."""

    access_token = "ya29.fake-access-token-for-tests"

    def __init__(self, *, refuse: bool = False) -> None:
        super().__init__()
        self.refuse = refuse
        self.claims: list[dict[str, Any]] = []  # the verified JWT claims of each grant

    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    def _respond(self, h: _Handler, req: RecordedRequest, reply: Reply) -> None:
        form = parse_qs(req.body if isinstance(req.body, str) else "")
        assertion = (form.get("assertion") or [""])[0]
        if req.path != "/token" or form.get("grant_type") != [JWT_GRANT] or assertion.count(".") != 2:
            h.send_json(400, {"error": "unsupported_grant_type"})
            return
        header, payload, signature = assertion.split(".")
        public = _KEYS[self.token_uri].public_key()
        public.verify(_b64(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        self.claims.append(json.loads(_b64(payload)))
        if self.refuse:
            h.send_json(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
            return
        h.send_json(200, {"access_token": self.access_token, "expires_in": 3600, "token_type": "Bearer"})
