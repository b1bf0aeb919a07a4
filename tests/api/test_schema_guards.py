"""The schema's guards stay cheap: a repeated query is parsed and validated once."""

from __future__ import annotations

import asyncio

from strawberry.extensions.validation_cache import _get_validate_cache

from api.schema import build_schema


def test_a_repeated_query_is_validated_once() -> None:
    schema = build_schema()
    cache = _get_validate_cache(256)
    query = "query Guarded { __typename }"
    asyncio.run(schema.execute(query))
    before = cache.cache_info()
    for _ in range(3):
        result = asyncio.run(schema.execute(query))
        assert result.errors is None
    after = cache.cache_info()
    assert after.hits - before.hits == 3
    assert after.misses == before.misses
