"""The EasyPost simulator: trackers, scripted carrier scans and signed tracker Events.

Start one in a test::

    sim = EasyPostSimulator(webhook_time_scale=0.001)
    async with serve(sim.app) as server:
        creds = sim.credentials_for(server.base_url)   # api_key, webhook_secret, api_url

Importing this package registers it with the sandbox registry under ``easypost``.
"""

from crossdock.sandbox.easypost._plans import OUTCOMES, Scan, guess_carrier, is_test_code, script
from crossdock.sandbox.easypost._simulator import (
    DEFAULT_DATA,
    TOPICS,
    EasyPostSimulator,
    default_scenario,
    error_body,
)
from crossdock.sandbox.easypost._state import Change, TrackerBook, TrackerRecord
from crossdock.sandbox.kit import register

register(EasyPostSimulator.system, EasyPostSimulator)

__all__ = [
    "DEFAULT_DATA",
    "OUTCOMES",
    "TOPICS",
    "Change",
    "EasyPostSimulator",
    "Scan",
    "TrackerBook",
    "TrackerRecord",
    "default_scenario",
    "error_body",
    "guess_carrier",
    "is_test_code",
    "script",
]
