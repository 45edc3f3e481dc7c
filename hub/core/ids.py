"""The ids the workshop gateway writes, as the hub must accept them (docs/protocol.md).

- A workshop or machine id is an InfluxDB tag value that the gateway writes unescaped
  (section 6): `[A-Za-z0-9_.-]{1,64}`.
- A board's device id is its MQTT user name and topic level (section 1):
  `[a-z0-9][a-z0-9_-]{1,31}`.

They repeat edge_gateway/contract.py's TAG_VALUE and DEVICE_ID on purpose, so the hub does not
depend on the gateway's package; tests/unit/test_registry_csv.py holds them to the gateway's.
Use `fullmatch`: `$` would let a trailing newline through.
"""

from __future__ import annotations

import re

TAG_VALUE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{1,31}")
