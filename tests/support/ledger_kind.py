"""A fifth connector kind, "ledger", as a third party would ship it: nothing under `api/`.

A small planning tool whose versions hold work items. It keeps its data in
memory (its upstream is not the point here); the hub finds it through the
`heatshield.connectors` entry-point group, like the four shipped kinds.

`python -m tests.support.ledger_kind --database URL --port P --token T` serves a
hub with one ledger instance and lets the RELEASE_MANAGER token T in.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar

import uvicorn

from connectors.base import Connector, LinkRef, WorkItem, WorkStatus

KIND = "ledger"
UPDATED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
# The ledger's versions and what they hold: (key, title, its own status word).
VERSIONS: dict[str, list[tuple[str, str, str]]] = {
    "2.0": [("LDG-1", "Close the books monthly", "booked"),
            ("LDG-2", "Export to the auditors", "drafted"),
            ("LDG-3", "Reconcile bank feeds", "booked")],
}
STATUS = {"booked": WorkStatus.DONE, "drafted": WorkStatus.IN_PROGRESS}


class LedgerConnector(Connector):
    """Work items of ledger versions; one call answers every version asked."""

    kind: ClassVar[str] = KIND

    async def work_items(self, links: Sequence[LinkRef]) -> Mapping[LinkRef, list[WorkItem]]:
        return {link: [WorkItem(source=self.name, key=key, title=title,
                                url=f"https://ledger.example/items/{key}", kind="entry",
                                status=STATUS[word], status_label=word, assignee=None,
                                updated_at=UPDATED)
                       for key, title, word in VERSIONS.get(link.key, [])]
                for link in links}


def main() -> None:
    from api.app import create_app
    from api.server import server_config
    from api.settings import load_settings
    from tests.support.graphql import principal_step

    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = load_settings(None, database={"url": args.database}, connectors=[
        {"name": "books", "kind": KIND, "base_url": "https://ledger.example"}])
    app = create_app(settings, startup=[principal_step(args.token)])
    uvicorn.Server(server_config(app, settings.server, host="127.0.0.1", port=args.port,
                                 log_level="warning")).run()


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
