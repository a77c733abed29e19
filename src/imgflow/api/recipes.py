"""``GET /v1/recipes``: the configured recipes and what each makes (for a client to offer a choice)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from imgflow.api.auth import Owner
from imgflow.api.problems import responses
from imgflow.recipes import Fit, OutputFormat, Recipe
from imgflow.settings import Settings


class RecipeRenditionView(BaseModel):
    name: str
    width: int | None = Field(description="bounding box width; None scales by the height")
    height: int | None = Field(description="bounding box height; None scales by the width")
    fit: Fit
    format: OutputFormat
    watermark: bool = Field(description="whether this rendition is watermarked")


class RecipeView(BaseModel):
    name: str
    renditions: list[RecipeRenditionView]

    @classmethod
    def of(cls, name: str, recipe: Recipe) -> RecipeView:
        return cls(
            name=name,
            renditions=[
                RecipeRenditionView(
                    name=r.name,
                    width=r.width,
                    height=r.height,
                    fit=r.fit,
                    format=r.format,
                    watermark=r.watermark is not None,
                )
                for r in recipe.renditions
            ],
        )


class RecipeList(BaseModel):
    default: str = Field(description="the recipe an upload gets when it names none")
    items: list[RecipeView] = Field(description="every configured recipe, by name")


def recipes_router(settings: Settings) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["recipes"])
    listing = RecipeList(
        default=settings.default_recipe,
        items=[RecipeView.of(name, settings.recipes[name]) for name in sorted(settings.recipes)],
    )

    @router.get("/recipes", response_model=RecipeList, summary="The configured recipes", responses=responses(401))
    def list_recipes(owner: Owner) -> RecipeList:
        return listing

    return router
