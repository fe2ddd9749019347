"""`crossdock demo`: every simulator, the hub on a fresh SQLite store, and storefront traffic.

`Demo(options, on_update).run(stop)` runs it and returns a `DemoResult`; `live_view`,
`plain_line` and `summary_view` render its snapshots. Every simulator is seeded with the
storefront's catalogue (`demo_scenarios`); the hub runs the order flow and sends its commands to
the ERP, CRM and warehouse simulators. Stages the demo does not reach are named in `NOT_BUILT`
and shown as such, never faked.
"""

from crossdock.hub.demo.catalogue import CatalogueItem, demo_scenarios, storefront_catalogue
from crossdock.hub.demo.governance import (
    SIMULATOR_OF_KIND,
    DemoGovernance,
    default_demo_config,
    demo_governance,
)
from crossdock.hub.demo.run import Demo, DemoError, DemoOptions, DemoResult
from crossdock.hub.demo.simulators import DemoSandbox, start_simulators
from crossdock.hub.demo.stats import (
    FINAL_STATES,
    NOT_BUILT,
    DemoSnapshot,
    SimulatorRow,
    SystemRow,
)
from crossdock.hub.demo.view import grouped, live_view, not_built_note, plain_line, summary_view

__all__ = [
    "FINAL_STATES",
    "NOT_BUILT",
    "SIMULATOR_OF_KIND",
    "CatalogueItem",
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
    "demo_scenarios",
    "grouped",
    "live_view",
    "not_built_note",
    "plain_line",
    "start_simulators",
    "storefront_catalogue",
    "summary_view",
]
