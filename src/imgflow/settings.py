"""The one settings object: a YAML file plus ``IMGFLOW_*`` environment variables.

Precedence: explicit arguments > environment > YAML file > defaults. Nested
fields use ``__`` in the environment (``IMGFLOW_LIMITS__MAX_PIXELS=20000000``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)
from pydantic_settings import YamlConfigSettingsSource as _YamlSource
from pydantic_settings.sources.utils import parse_env_vars

from imgflow.errors import ConfigError
from imgflow.ondemand.config import OnDemandSettings
from imgflow.recipes import Limits, Recipe, default_recipe
from imgflow.settings_errors import ENV_PREFIX, NEEDS_DATABASE_URL, describe

DEFAULT_CONFIG_FILE = "imgflow.yaml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", frozen=True, extra="forbid")

    #: where the YAML came from (informational)
    config_file: str | None = None

    # --- what to make ---------------------------------------------------------
    #: your recipes by name, added to the built-in ``default`` (a recipe named ``default`` replaces it)
    recipes: dict[str, Recipe] = Field(default_factory=lambda: {"default": default_recipe()})
    default_recipe: str = "default"
    limits: Limits = Limits()

    # --- where things live ----------------------------------------------------
    #: "local": a folder + SQLite under data_dir; "aws": S3 + DynamoDB; "cluster": PostgreSQL
    #: (catalog and job queue) + any S3-compatible store, roles on many hosts (docs/cluster.md)
    backend: Literal["local", "aws", "cluster"] = "local"
    #: the cluster's PostgreSQL (postgresql://user:password@host:5432/imgflow); one database
    #: holds the catalog and the job queue
    database_url: str | None = Field(default=None, repr=False)
    #: connections each cluster process keeps to it at most
    database_pool_size: int = Field(default=2, ge=1, le=200)
    data_dir: Path = Path("var")
    uploads_bucket: str = "imgflow-uploads"
    renditions_bucket: str = "imgflow-renditions"
    table_name: str = "imgflow-images"
    aws_region: str = "us-east-1"
    #: S3/DynamoDB/SQS endpoint (moto, MinIO, LocalStack); None = AWS itself
    aws_endpoint_url: str | None = None
    #: renditions served from here (CloudFront) instead of presigned GETs
    cdn_base_url: str | None = None
    #: the processor's SQS queue: the service sends it a message when it queues a record
    #: itself (reprocess, direct upload); None = only S3 events and the reconcile sweep
    queue_url: str | None = None

    # --- events (Image Processed / Image Failed) -----------------------------------
    #: the EventBridge bus the aws backend publishes to ("default": the account's); None = none
    event_bus_name: str | None = None
    #: where the local runtime POSTs the same events (signed with webhook_secret); None = nowhere
    webhook_url: str | None = None
    webhook_secret: str | None = Field(default=None, repr=False)

    # --- recipes on AWS: the same YAML, as an S3 object (``imgflow config push``) -------
    #: the bucket holding the config object; None = the recipes of the environment/file only
    config_bucket: str | None = None
    #: the YAML's key (watermark files it names sit beside it, by their relative paths)
    config_key: str = "imgflow.yaml"
    #: a warm function rechecks the object's ETag at most this often
    config_recheck_seconds: int = Field(default=60, ge=1)

    # --- the API ----------------------------------------------------------------
    auth: Literal["none", "token", "jwt"] = "none"
    api_token: str | None = Field(default=None, repr=False)
    #: body cap for POST /v1/images (Lambda gets base64 bodies under 6 MB)
    direct_upload_max_bytes: int = Field(default=4 * 1024 * 1024, ge=1)
    upload_url_ttl: int = Field(default=900, ge=1, le=900)
    download_url_ttl: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
    #: how long an upload may stay awaiting before its record expires
    upload_expiry_seconds: int = Field(default=24 * 3600, ge=60)
    tombstone_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    #: base URL the local server is reached at (for signed local URLs)
    public_base_url: str = "http://127.0.0.1:8080"
    cors_origins: tuple[str, ...] = ()

    # --- processing policy ------------------------------------------------------
    #: longer than the processor's timeout
    lease_seconds: int = Field(default=900, ge=1)
    max_attempts: int = Field(default=3, ge=1)
    #: a retry waits this long, doubling per attempt up to retry_max_delay_seconds
    retry_delay_seconds: float = Field(default=2.0, ge=0.0)
    retry_max_delay_seconds: float = Field(default=600.0, ge=0.0, le=43200.0)
    #: after a full disk (ENOSPC) while writing renditions the first retry waits this long (doubling)
    disk_full_retry_seconds: float = Field(default=60.0, ge=0.0)
    reconcile_interval_seconds: int = Field(default=300, ge=1)
    #: an awaiting/queued record untouched this long is re-driven by reconcile
    reconcile_grace_seconds: int = Field(default=120, ge=0)

    # --- the local runtime --------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int | None = Field(default=None, ge=1, le=64)
    #: API processes accepting on the one port (the workers are separate)
    processes: int = Field(default=1, ge=1, le=64)
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")
    #: HMAC key for local signed upload URLs; generated into data_dir when unset
    signing_key: str | None = Field(default=None, repr=False)
    #: a job still running after this long ends failed (timeout); its worker is killed and replaced
    job_timeout_seconds: float = Field(default=120.0, gt=0.0)
    #: a worker whose resident memory passes this is killed and replaced; its image ends failed (memory_limit)
    worker_memory_limit_mb: int = Field(default=2048, ge=64)

    # --- hostile clients (the local server's edge) ----------------------------------
    #: a request's headers must be complete this many seconds after the connection opens (or
    #: after the previous answer on it); the connection is closed otherwise
    header_timeout_seconds: float = Field(default=20.0, gt=0)
    #: a request body is cut (408) when no byte of it arrives for this long, or when, past
    #: this first window, it averages fewer than body_min_rate bytes a second
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    body_min_rate: int = Field(default=1024, ge=0)
    #: images of one owner queued or processing at most; past it new uploads and reprocess
    #: requests get 429 with Retry-After (None: no limit)
    max_pending_per_owner: int | None = Field(default=1000, ge=1)

    #: on-demand ``/t/`` transform URLs: keys, limits, cache (docs/api.md)
    ondemand: OnDemandSettings = OnDemandSettings()

    @field_validator("recipes", mode="before")
    @classmethod
    def _named_by_key(cls, value: Any) -> Any:
        """The key is the recipe's name; the built-in ``default`` stays unless a recipe replaces it."""
        if not isinstance(value, Mapping):
            return value
        named: dict[str, Any] = {"default": default_recipe()}
        for key, recipe in value.items():
            if isinstance(recipe, Mapping):
                if recipe.get("name", key) != key:
                    raise ValueError(f"the recipe under {key!r} is named {recipe['name']!r}; leave `name` out")
                recipe = {**recipe, "name": key}
            named[str(key)] = recipe
        return named

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.default_recipe not in self.recipes:
            known = ", ".join(sorted(self.recipes))
            raise ValueError(f"default_recipe {self.default_recipe!r} is not one of the recipes ({known})")
        if self.backend == "cluster" and not (self.database_url or "").startswith(("postgresql://", "postgres://")):
            raise ValueError(NEEDS_DATABASE_URL)
        if self.auth == "token" and not self.api_token:
            raise ValueError("auth: token needs an api_token (IMGFLOW_API_TOKEN)")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings reads the file and the environment itself (to say which one a bad value came from)
        return (init_settings,)

    def recipe(self, name: str | None = None) -> Recipe:
        from imgflow.errors import BadRecipe

        key = name or self.default_recipe
        try:
            return self.recipes[key]
        except KeyError:
            raise BadRecipe(f"no recipe named {key!r}; known: {', '.join(sorted(self.recipes))}") from None


class _EnvSource(EnvSettingsSource):
    """The ``IMGFLOW_*`` variables of a given mapping (the process's environment by default)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.env_vars = parse_env_vars(environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml  # here: a command without a config file does without it (start-up)

    if not path.is_file():
        why = "it is a folder" if path.is_dir() else "no such file"
        raise ConfigError(f"Cannot read the config file {path}: {why}.")
    try:
        data = _YamlSource(Settings, yaml_file=path)()
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc.strerror or exc}.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"The config file {path} is not valid YAML: {exc}") from exc
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"The config file {path} must hold a mapping (key: value) at the top level.") from exc
    return data


def _load_watermark_images(data: dict[str, Any], base: Path) -> None:
    for mark in _file_watermarks(data):
        path = (base / str(mark["image_path"])).resolve()
        try:
            mark["image"] = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"Cannot read the watermark image {path}: {exc.strerror or exc}.") from exc


def _merge(low: dict[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(low)
    for key, value in high.items():
        below = out.get(key)
        out[key] = _merge(below, value) if isinstance(below, dict) and isinstance(value, Mapping) else value
    return out


def _config_path(config_file: str | Path | None, environ: Mapping[str, str]) -> Path | None:
    text = str(config_file) if config_file else environ.get("IMGFLOW_CONFIG")
    if text:
        return Path(text)
    return Path(DEFAULT_CONFIG_FILE) if Path(DEFAULT_CONFIG_FILE).exists() else None


def load_settings(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings once, at start. ``config_file`` defaults to ``$IMGFLOW_CONFIG`` or
    ``./imgflow.yaml`` when that exists. ``overrides`` beat the environment, which beats the file."""
    env = os.environ if environ is None else environ
    path = _config_path(config_file, env)
    layers: list[tuple[str, dict[str, Any]]] = []  # lowest precedence first
    if path is not None:
        data = _read_yaml(path)
        _load_watermark_images(data, path.parent)
        layers.append((f"the config file {path}", {**data, "config_file": str(path)}))
    return _build(layers, env, overrides)


def _build(layers: list[tuple[str, dict[str, Any]]], env: Mapping[str, str], overrides: Mapping[str, Any]) -> Settings:
    """The file-like layers, then the environment, then explicit arguments, merged and validated."""
    try:
        layers.append(("the environment", _EnvSource(Settings, env)()))
    except SettingsError as exc:  # a complex field's variable that is not JSON
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"{ENV_PREFIX}{field.group(1).upper()}" if field else "an IMGFLOW_* variable"
        raise ConfigError(f"Invalid setting in the environment: {name} must be JSON (a list or a mapping).") from exc
    layers.append(("the command line", {k: v for k, v in overrides.items() if v is not None}))
    merged: dict[str, Any] = {}
    for _, data in layers:
        merged = _merge(merged, data)
    try:
        return Settings(**merged)
    except ValidationError as exc:
        raise ConfigError(describe(exc, layers, env)) from exc


def _file_watermarks(data: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The watermarks of a YAML document that name a file (``image_path``) not loaded yet."""
    recipes = data.get("recipes")
    for recipe in recipes.values() if isinstance(recipes, dict) else ():
        renditions = recipe.get("renditions") if isinstance(recipe, dict) else None
        for rendition in renditions if isinstance(renditions, list) else ():
            mark = rendition.get("watermark") if isinstance(rendition, dict) else None
            if isinstance(mark, dict) and mark.get("image_path") and "image" not in mark:
                yield mark


def watermark_paths(data: Mapping[str, Any]) -> list[str]:
    """The ``image_path`` of every watermark a YAML document names (relative to the YAML)."""
    return [str(mark["image_path"]) for mark in _file_watermarks(data)]


def settings_from_document(
    text: str | bytes,
    *,
    source: str,
    read_file: Callable[[str], bytes],
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from a YAML document held elsewhere than a local file (the config object on S3):
    the same precedence as :func:`load_settings` (the environment beats the document), each
    watermark's ``image_path`` read through ``read_file``. Raises ConfigError, never half-valid."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must hold a mapping at the top level")
    for mark in _file_watermarks(data):
        mark["image"] = read_file(str(mark["image_path"]))
    return _build([(source, {**data, "config_file": source})], os.environ if environ is None else environ, {})
