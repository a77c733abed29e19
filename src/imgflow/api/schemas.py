"""What the API speaks: request bodies and record views (renditions carry URLs made at read time)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from imgflow.facts import ImageFacts
from imgflow.ports import PresignedUpload
from imgflow.records import ErrorInfo, ImageRecord

ListableStatus = Literal["awaiting_upload", "queued", "processing", "done", "failed"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UploadRequest(_In):
    filename: str | None = Field(default=None, max_length=1024, examples=["cat.jpg"])
    content_type: str = Field(min_length=1, max_length=255, examples=["image/jpeg"])
    size: int = Field(ge=1, description="the exact size of the file in bytes", examples=[123456])
    recipe: str | None = Field(default=None, max_length=63, description="a configured recipe; default if omitted")
    tags: list[str] | None = Field(default=None, description="the image's tags (at most 50)", examples=[["beach"]])
    alt: str | None = Field(default=None, description="alt text, up to 1,000 characters")
    metadata: dict[str, str] | None = Field(
        default=None, description="your own fields: at most 50 keys of [A-Za-z0-9_.-]{1,64}, values up to 1,024"
    )


class ReprocessRequest(_In):
    recipe: str | None = Field(default=None, max_length=63)


class RenditionView(BaseModel):
    name: str
    format: str
    content_type: str
    width: int
    height: int
    bytes: int
    url: str


class ImageView(BaseModel):
    image_id: str
    status: str
    filename: str | None = None
    content_type: str | None = Field(default=None, description="sniffed if known, else declared")
    size: int | None = None
    recipe: str
    generation: int
    attempts: int
    created_at: float
    updated_at: float
    expires_at: int | None = None
    error: ErrorInfo | None = None
    facts: ImageFacts | None = None
    renditions: list[RenditionView] = []
    srcset: str | None = Field(
        default=None,
        description="signed on-demand URLs for the configured widths, ready for <img srcset>; once done",
    )
    tags: list[str] = Field(default=[], description="your tags, as first given")
    alt: str | None = Field(default=None, description="your alt text")
    metadata: dict[str, str] = Field(default={}, description="your own fields")
    version: int = Field(description="bumped on every change; the ETag, for If-Match on PATCH")

    @classmethod
    def of(
        cls,
        record: ImageRecord,
        url_for: Callable[[str], str],
        srcset: Callable[[ImageRecord], str | None] | None = None,
    ) -> ImageView:
        return cls(
            image_id=record.image_id,
            status=record.status,
            filename=record.filename,
            content_type=record.sniffed_type or record.declared_type,
            size=record.size if record.size is not None else record.declared_size,
            recipe=record.recipe,
            generation=record.generation,
            attempts=record.attempts,
            created_at=record.created_at,
            updated_at=record.updated_at,
            expires_at=record.expires_at,
            error=record.error,
            facts=record.facts,
            renditions=[
                RenditionView(
                    name=r.name,
                    format=r.format,
                    content_type=r.content_type,
                    width=r.width,
                    height=r.height,
                    bytes=r.bytes,
                    url=url_for(r.key),
                )
                for r in record.renditions
            ],
            srcset=srcset(record) if srcset is not None else None,
            tags=list(record.tags),
            alt=record.alt,
            metadata=dict(record.metadata),
            version=record.version,
        )


class UploadView(BaseModel):
    url: str
    method: str
    fields: dict[str, str]
    file_field: str = Field(description="the form field that carries the file; send it last")
    expires_at: float

    @classmethod
    def of(cls, grant: PresignedUpload) -> UploadView:
        return cls(
            url=grant.url,
            method=grant.method,
            fields=dict(grant.fields),
            file_field=grant.file_field,
            expires_at=grant.expires_at,
        )


class CreatedUpload(BaseModel):
    image: ImageView
    upload: UploadView


class ImageList(BaseModel):
    items: list[ImageView]
    cursor: str | None = Field(default=None, description="pass back as ?cursor= for the next page")


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
