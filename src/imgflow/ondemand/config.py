"""On-demand settings: the ``ondemand:`` block of the settings (pure pydantic, no I/O)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

#: widths a srcset commonly asks for; the URL maker rounds a width up to the next one
DEFAULT_WIDTHS = (64, 128, 160, 240, 320, 400, 480, 640, 800, 960, 1024, 1280, 1440, 1600, 1920, 2048, 2560, 3200, 3840)


class OnDemandSettings(BaseModel):
    """Limits and keys of the ``/t/...`` transform URLs (see docs/api.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    #: HMAC-SHA256 keys; the first signs, every one verifies (rotation: add the new key first,
    #: drop the old one once no page embeds its URLs). Empty locally: derived from ``signing_key``.
    keys: tuple[SecretStr, ...] = ()
    #: on AWS: the Secrets Manager secret holding the keys (a JSON list, or a string of keys joined by ",")
    keys_secret_arn: str | None = None
    #: where the transform URLs are served; None: ``cdn_base_url``, else ``public_base_url``
    base_url: str | None = None
    #: allowed values of ``w`` and ``h`` (CSS pixels); ignored when ``size_step`` is set
    widths: tuple[int, ...] = DEFAULT_WIDTHS
    #: instead of a list: any multiple of this step is allowed
    size_step: int | None = Field(default=None, ge=1, le=4096)
    #: the largest output, in device pixels (after ``dpr``)
    max_width: int = Field(default=4096, ge=1, le=16384)
    max_height: int = Field(default=4096, ge=1, le=16384)
    dprs: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0)
    #: whether ``up_1`` (enlarge past the source) may be asked for
    allow_upscale: bool = False
    default_quality: int = Field(default=80, ge=1, le=100)
    #: named option strings (``thumb: w_200,h_200,fit_cover``) usable as ``p_thumb``
    presets: dict[str, str] = Field(default_factory=dict)
    #: presets served without a signature (``/t/_/p_thumb/{id}/{generation}``)
    public_presets: tuple[str, ...] = ()
    #: widths of the ``srcset`` each image's record view carries
    srcset_widths: tuple[int, ...] = (320, 640, 960, 1280, 1920)
    #: a render taking longer is abandoned (its process killed and restarted), 503
    render_timeout_seconds: float = Field(default=20.0, gt=0, le=900)
    #: render processes (locally); also the bound on renders running at once
    renderers: int = Field(default=2, ge=1, le=64)
    #: requests that may wait for a free renderer; past that, 429 with Retry-After
    render_queue: int = Field(default=16, ge=0, le=10_000)
    #: the local cache's size cap (least recently used entries go first)
    cache_max_bytes: int = Field(default=512 * 1024 * 1024, ge=1024 * 1024)
    #: the Cache-Control max-age of a transformed image (immutable: the URL names a generation)
    max_age_seconds: int = Field(default=365 * 24 * 3600, ge=0)
    #: the Cache-Control max-age of a redirect to the current generation
    redirect_max_age_seconds: int = Field(default=300, ge=0)
    #: on AWS: a larger output is stored beside the renditions and answered with a redirect to it
    #: (a function URL's response is at most 6 MB, and binary bodies travel base64-encoded)
    max_inline_bytes: int = Field(default=4_400_000, ge=1, le=4_400_000)

    @field_validator("widths", "srcset_widths")
    @classmethod
    def _sizes(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(v < 1 or v > 16384 for v in value):
            raise ValueError("sizes are 1..16384 and at least one is given")
        return tuple(sorted(set(value)))

    @field_validator("dprs")
    @classmethod
    def _dprs(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if 1.0 not in value or any(not 1.0 <= v <= 4.0 or round(v, 2) != v for v in value):
            raise ValueError("dprs are between 1 and 4 with at most two decimals, and include 1")
        return tuple(sorted(set(value)))

    @field_validator("keys")
    @classmethod
    def _keys(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if any(len(k.get_secret_value()) < 16 for k in value):
            raise ValueError("every on-demand key is at least 16 characters")
        return value

    @model_validator(mode="after")
    def _presets(self) -> OnDemandSettings:
        from imgflow.errors import ImgflowError
        from imgflow.ondemand.options import parse_options

        for name, text in self.presets.items():
            if not name.replace("-", "").isalnum() or not name.islower():
                raise ValueError(f"preset name {name!r}: lower-case letters, digits and '-' only")
            try:
                parse_options(text)
            except ImgflowError as exc:
                raise ValueError(f"preset {name!r}: {exc.message}") from None
        unknown = set(self.public_presets) - set(self.presets)
        if unknown:
            raise ValueError(f"public_presets names presets that do not exist: {sorted(unknown)}")
        return self

    def allowed_size(self, value: int) -> bool:
        if self.size_step is not None:
            return value % self.size_step == 0
        return value in self.widths

    def round_size(self, value: int) -> int:
        """The smallest allowed size at least ``value`` (``value`` itself past the largest: refused later)."""
        if self.size_step is not None:
            return max(self.size_step, -(-value // self.size_step) * self.size_step)
        for width in self.widths:
            if width >= value:
                return width
        return value
