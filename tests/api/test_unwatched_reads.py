"""Reads a list starts before its fields ask (`start_reads`): when one fails and no field
waits for it (the query ended first), the failure is noted, not reported by asyncio as
an exception nobody retrieved; fields that do wait still get it."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import pytest

from api.upstream_loaders import ListLoader


async def fails(keys: list[str]) -> list[str]:
    raise RuntimeError("the database went away")


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)
    gc.collect()
    await asyncio.sleep(0)


async def test_a_failed_read_no_field_waited_for_is_noted_not_reported_as_never_retrieved(
        caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []  # what asyncio reports of exceptions nobody retrieved
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    caplog.set_level(logging.DEBUG, logger="heatshield.upstream")
    try:
        loader = ListLoader(fails)
        assert loader.start(["PAY-1", "PAY-2"]) == ["PAY-1", "PAY-2"]
        del loader
        await settle()
    finally:
        loop.set_exception_handler(previous)
    assert [c["message"] for c in reported] == []
    assert "an upstream read failed: RuntimeError" in caplog.messages


async def test_a_field_that_waits_for_a_failed_read_still_gets_its_failure() -> None:
    loader = ListLoader(fails)
    loader.start(["PAY-1"])
    with pytest.raises(RuntimeError, match="the database went away"):
        await loader.load("PAY-1")
