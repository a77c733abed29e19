"""``GET /v1/images/{image_id}/transform-url``: a signed on-demand URL for the owner's image."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from imgflow.api.auth import Owner
from imgflow.api.problems import responses
from imgflow.errors import NotFound
from imgflow.ondemand import Links, Transform
from imgflow.ondemand.options import Fit, Format, Gravity
from imgflow.service import ImageService


class TransformUrlView(BaseModel):
    url: str = Field(description="absolute, signed; sizes rounded up to the server's allowed sizes")
    image_id: str
    generation: int


def transform_router(service: ImageService, links: Links | None) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["on-demand"])

    @router.get(
        "/images/{image_id}/transform-url",
        response_model=TransformUrlView,
        summary="A signed on-demand URL for one of your processed images",
        responses=responses(400, 401, 404, 409, 422),
    )
    def transform_url(
        image_id: str,
        owner: Owner,
        width: Annotated[int | None, Query(ge=1, le=16384)] = None,
        height: Annotated[int | None, Query(ge=1, le=16384)] = None,
        fit: Fit = "contain",
        gravity: Gravity = "centre",
        format: Format = "auto",
        quality: Annotated[int | None, Query(ge=1, le=100)] = None,
        dpr: Annotated[float, Query(ge=1, le=4)] = 1.0,
    ) -> TransformUrlView:
        if links is None:
            raise NotFound("on-demand URLs are not enabled on this server", code="ondemand_disabled")
        record = service.get(owner, image_id)
        transform = Transform(
            width=width, height=height, fit=fit, gravity=gravity, format=format, quality=quality, dpr=dpr
        )
        return TransformUrlView(url=links.url(record, transform), image_id=image_id, generation=record.generation)

    return router
