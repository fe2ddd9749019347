"""Faithful simulators of the external systems, for tests, the demo and load rehearsals.

``crossdock.sandbox.kit`` is what every simulator is built from; each system has its own
sub-package (``crossdock.sandbox.shopify``, ...) registered in ``kit._registry``.
"""
