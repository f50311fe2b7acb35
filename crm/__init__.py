"""The CRM registry: one entry per vendor, each a module with a `build(context)` beside its own
settings. Only the composition root (`app.py`, `cli/`) calls `build`; the rest of followup
sees a `crm.base.CrmAdapter`. A vendor module is imported only when it is asked for."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crm.base import CrmAdapter, CrmError
from crm.mapping import CrmMapping

if TYPE_CHECKING:
    import httpx2

VENDORS: dict[str, str] = {
    "local": "crm.local",
    "hubspot": "crm.hubspot",
    "pipedrive": "crm.pipedrive",
    "salesforce": "crm.salesforce",
    "close": "crm.close",
}


class CrmSetupError(CrmError):
    """The configuration does not let this adapter start (a missing token, say); the message
    names the variable to set."""


@dataclass(frozen=True, slots=True)
class CrmContext:
    """What every vendor's `build` gets; each reads its own settings from the environment."""

    mapping: CrmMapping = field(default_factory=CrmMapping)
    pipeline_file: Path = Path("examples/pipeline.json")
    timeout: float = 20.0
    env_file: str | None = ".env"
    transport: httpx2.BaseTransport | None = None  # the seam for loopback tests


def available() -> list[str]:
    return sorted(VENDORS)


def build(name: str, context: CrmContext | None = None) -> CrmAdapter:
    module_name = VENDORS.get(name)
    if module_name is None:
        raise CrmSetupError(
            f"CRM_PROVIDER={name} is not available in this version; use one of "
            f"{', '.join(available())}"
        )
    module = importlib.import_module(module_name)
    adapter: CrmAdapter = module.build(context or CrmContext())
    return adapter
