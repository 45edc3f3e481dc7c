"""The registry of the Dongdaemun network: workshops (with their machines, each linked to its
telemetry machine id and board), designers and brands, suppliers; CSV import and export.

The public face other capabilities use is hub.registry.service (re-exported here): functions over
a SQLAlchemy session that return frozen dataclasses. The tables (`models`), the CSV format
(`csvio`), the API (`routes`) and the command line (`cli`) are the registry's own.

The names load on first use, so `sewnet` starts without SQLAlchemy until a command needs it.
"""

__all__ = ["FAMILIES", "KINDS", "MACHINE_TYPES", "DesignerInfo", "ImportReport", "MachineInfo", "Problem",
           "SupplierInfo", "WorkshopInfo", "count", "designer", "designers", "dongs", "export_csv", "import_csv", "machines",
           "supplier", "suppliers", "workshop", "workshops"]


def __getattr__(name: str):
    if name in __all__:
        from hub.registry import service

        return getattr(service, name)
    raise AttributeError(f"module 'hub.registry' has no attribute {name!r}")
