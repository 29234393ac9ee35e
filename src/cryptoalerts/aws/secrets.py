"""Where the webhook secret comes from: the environment, Secrets Manager or SSM.

The secret is never in code, templates or logs. ``WEBHOOK_SECRET`` (the raw value)
suits local runs; in AWS, ``WEBHOOK_SECRET_ARN`` names a Secrets Manager secret
(``arn:aws:secretsmanager:...``) or an SSM SecureString parameter
(``arn:aws:ssm:...:parameter/name``), fetched once per container and cached: a
warm invocation costs no API call, and a rotated secret is picked up by new
containers (senders may sign with both secrets meanwhile, see ``signing``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cryptoalerts.aws.clients import ClientResource
from cryptoalerts.errors import CryptoAlertsError

__all__ = ["SECRET_ARN_ENV", "SECRET_ENV", "SecretError", "fetch_secret", "resolve_secret"]

SECRET_ENV = "WEBHOOK_SECRET"
SECRET_ARN_ENV = "WEBHOOK_SECRET_ARN"


class SecretError(CryptoAlertsError):
    """No secret is configured, or the configured reference cannot be read."""


class _SecretsManager(ClientResource):
    service = "secretsmanager"


class _Ssm(ClientResource):
    service = "ssm"


async def fetch_secret(arn: str, *, client: object = None) -> bytes:
    """Read the secret named by ``arn`` (Secrets Manager or SSM) through aiobotocore.

    Raises:
        SecretError: the ARN is neither a Secrets Manager secret nor an SSM parameter,
            or the secret is empty or binary-only.
    """
    parts = arn.split(":", 5)
    service = parts[2] if len(parts) == 6 and parts[0] == "arn" else ""
    if service == "secretsmanager":
        async with _SecretsManager(client) as sm:
            response = await sm.client.get_secret_value(SecretId=arn)
        value = response.get("SecretString")
    elif service == "ssm":
        async with _Ssm(client) as ssm:
            response = await ssm.client.get_parameter(Name=arn, WithDecryption=True)
        value = response.get("Parameter", {}).get("Value")
    else:
        raise SecretError(f"{SECRET_ARN_ENV} must be a secretsmanager or ssm ARN, got {arn[:60]!r}")
    if not isinstance(value, str) or not value:
        raise SecretError(f"the secret at {arn} is empty or not a string")
    return value.encode("utf-8")


async def resolve_secret(environ: Mapping[str, str] | None = None, *, client: object = None) -> bytes:
    """The webhook secret from ``WEBHOOK_SECRET``, else from the ``WEBHOOK_SECRET_ARN`` reference.

    Raises:
        SecretError: neither is set (the webhook then refuses every request).
    """
    env = os.environ if environ is None else environ
    direct = env.get(SECRET_ENV)
    if direct:
        return direct.encode("utf-8")
    arn = env.get(SECRET_ARN_ENV)
    if arn:
        return await fetch_secret(arn, client=client)
    raise SecretError(f"set {SECRET_ENV} or {SECRET_ARN_ENV}")
