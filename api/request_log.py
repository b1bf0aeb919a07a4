"""The server's logging setup: uvicorn's loggers and Heatshield's on one handler.

Access lines are written by `api.envelope`, without query strings; servers running
the app turn their own access log off (`api.cli`), so that is the only one.
"""

from __future__ import annotations

import copy
from typing import Any

from uvicorn.config import LOGGING_CONFIG


def uvicorn_log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging setup plus Heatshield's loggers on the same console handler.

    Run uvicorn with `access_log=False` beside it: `api.envelope` writes the access
    lines, without query strings.
    """
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["heatshield"] = {"handlers": ["default"], "level": level.upper(),
                                       "propagate": False}
    # aiosqlite logs each statement with its parameters at DEBUG (password hashes
    # included); never below INFO, whatever level the server runs at.
    config["loggers"]["aiosqlite"] = {"level": "INFO"}
    return config
