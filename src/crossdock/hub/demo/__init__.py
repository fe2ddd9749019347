"""`crossdock demo`: every simulator, the hub on a fresh SQLite store, and storefront traffic.

`Demo(options, on_update).run(stop)` runs it and returns a `DemoResult`; `live_view`,
`plain_line` and `summary_view` render its snapshots. Stages that do not exist yet (the order
flow to ERP, CRM and warehouses) are named in `NOT_BUILT` and shown as such, never faked.
"""

from crossdock.hub.demo.governance import (
    SIMULATOR_OF_KIND,
    DemoGovernance,
    default_demo_config,
    demo_governance,
)
from crossdock.hub.demo.run import Demo, DemoError, DemoOptions, DemoResult
from crossdock.hub.demo.simulators import DemoSandbox, start_simulators
from crossdock.hub.demo.stats import NOT_BUILT, DemoSnapshot, SimulatorRow, SystemRow
from crossdock.hub.demo.view import live_view, not_built_note, plain_line, summary_view

__all__ = [
    "NOT_BUILT",
    "SIMULATOR_OF_KIND",
    "Demo",
    "DemoError",
    "DemoGovernance",
    "DemoOptions",
    "DemoResult",
    "DemoSandbox",
    "DemoSnapshot",
    "SimulatorRow",
    "SystemRow",
    "default_demo_config",
    "demo_governance",
    "live_view",
    "not_built_note",
    "plain_line",
    "start_simulators",
    "summary_view",
]
