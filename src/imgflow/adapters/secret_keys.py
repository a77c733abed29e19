"""The on-demand URL keys from a Secrets Manager secret (read once per container, at cold start)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imgflow.errors import ConfigError, StorageForbidden
from imgflow.ondemand.keys import parse_secret


class SecretKeys:
    IAM_ACTIONS: Mapping[str, tuple[str, ...]] = {"get": ("secretsmanager:GetSecretValue",)}
    BOTO_OPERATIONS: Mapping[str, tuple[str, ...]] = {"GetSecretValue": ("secretsmanager:GetSecretValue",)}

    def __init__(self, client: Any, secret_id: str) -> None:
        self.client = client
        self.secret_id = secret_id

    def get(self) -> list[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            text = self.client.get_secret_value(SecretId=self.secret_id)["SecretString"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("AccessDeniedException", "AccessDenied"):
                raise StorageForbidden("this function may not read the on-demand keys secret") from None
            raise ConfigError(f"cannot read the on-demand keys secret ({code or 'ClientError'})") from None
        except BotoCoreError as exc:
            raise ConfigError(f"cannot read the on-demand keys secret ({type(exc).__name__})") from None
        return parse_secret(str(text))
