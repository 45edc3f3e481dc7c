"""The gateway's ingest as its own process, with a store that notes each batch it begins to commit.

For tests that SIGKILL the process while a batch's commit is in flight: the store appends the
batch's size to a marker file before its transaction, so the test knows messages are in the
commit, not merely at the broker. Everything else is the real Ingest and the real Outbox.

Run: python -m tests.integration.observed_ingest CONFIG MARKER
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from edge_gateway.config import load_config
from edge_gateway.ingest import Ingest
from edge_gateway.outbox import Outbox


class ObservedOutbox(Outbox):
    def __init__(self, *args, marker: Path, **kwargs):
        super().__init__(*args, **kwargs)
        self.marker = marker

    def ingest(self, messages):
        with open(self.marker, "a") as f:
            f.write(f"{len(messages)}\n")
        return super().ingest(messages)


async def main(config_path: str, marker: str) -> None:
    cfg = load_config(config_path)
    store = ObservedOutbox(cfg.store_path, cfg.workshop, cfg.registry, marker=Path(marker))
    await Ingest(cfg, store).run()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(main(sys.argv[1], sys.argv[2]))
