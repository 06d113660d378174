"""GET /api/stripe/products: the public catalog, for pricing pages (no credentials)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from billing.catalog.cache import CatalogCache
from billing.catalog.schemas import ProductList
from billing.db.engine import get_database

router = APIRouter(prefix="/api/stripe", tags=["catalog"])


@router.get("/products", response_model=ProductList)
async def list_products(request: Request) -> Response:
    """Active products with their active prices and credits, cheapest first. Served from
    this process's cache, which any catalog change in any process invalidates."""
    cache: CatalogCache = request.app.state.catalog
    body = await cache.products(get_database(request))
    return Response(body, media_type="application/json")
