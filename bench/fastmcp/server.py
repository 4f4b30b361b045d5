"""The FastMCP peer `cargo xtask bench e2e` measures orchestrator-mcp against.

FastMCP with its JWTVerifier, served statelessly with JSON answers, with one
tool, `ping`, answering what orchestrator-mcp's `ping` answers. It accepts
the same RS256 tokens: the key is read from the JWKS file the bench saved
from orchestrator-mcp's demo authorization server, and the issuer and
audience are the ones those tokens carry.

Environment: PORT, JWKS_FILE, ISSUER, AUDIENCE.
"""

import base64
import datetime
import json
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
from fastmcp import FastMCP
from fastmcp.server.auth.providers.jwt import JWTVerifier
from fastmcp.server.dependencies import get_access_token


def _integer(field: str) -> int:
    padded = field + "=" * (-len(field) % 4)
    return int.from_bytes(base64.urlsafe_b64decode(padded), "big")


def public_key_pem(jwks_file: str) -> str:
    with open(jwks_file, encoding="utf-8") as handle:
        keys = json.load(handle)["keys"]
    rsa = [key for key in keys if key.get("kty") == "RSA"]
    if not rsa:
        sys.exit(f"{jwks_file} holds no RSA key")
    numbers = RSAPublicNumbers(_integer(rsa[0]["e"]), _integer(rsa[0]["n"]))
    return (
        numbers.public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
    )


verifier = JWTVerifier(
    public_key=public_key_pem(os.environ["JWKS_FILE"]),
    issuer=os.environ["ISSUER"],
    audience=os.environ["AUDIENCE"],
    algorithm="RS256",
)
mcp = FastMCP("fastmcp-peer", auth=verifier)


@mcp.tool
def ping(message: str | None = None) -> dict:
    """Checks connectivity."""
    token = get_access_token()
    pong = {
        "pong": True,
        "server_time": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="milliseconds"
        ),
        "principal_id": token.client_id if token else None,
    }
    if message is not None:
        pong["message"] = message
    return pong


if __name__ == "__main__":
    print(f"listening on 127.0.0.1:{os.environ['PORT']}", flush=True)
    mcp.run(
        transport="http",
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        path="/mcp",
        stateless_http=True,
        json_response=True,
        log_level="warning",
    )
