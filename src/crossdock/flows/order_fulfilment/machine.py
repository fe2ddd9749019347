"""The order-to-fulfilment state machine, declared as data (the console draws it from here)."""

from __future__ import annotations

from crossdock.flows.machine import State, StateMachine, Transition

__all__ = ["GATE_SOURCES", "GATE_TARGETS", "MACHINE", "POST_RELEASE", "PRE_RELEASE"]

_STATES = (
    State("received", "The order arrived from a channel; nothing checked yet."),
    State("validated", "SKUs known, stock checked, customer resolved; ERP sales order asked for."),
    State("erp_order_created", "The ERP holds the sales order (its id is linked)."),
    State("crm_told", "The CRM was given the order with its account context."),
    State("payment_held", "Waiting until payment is captured or authorized."),
    State("released_to_warehouse", "The chosen warehouse has the order to pick and ship."),
    State("partially_shipped", "Some units shipped; each shipment recorded everywhere."),
    State("shipped", "Every shippable unit shipped."),
    State("delivered", "The carrier delivered every shipment; ERP invoice asked for."),
    State("invoiced", "The ERP posted the invoice; waiting for payment when not yet paid."),
    State("closed", "Invoiced and paid: nothing left to do.", "final"),
    State(
        "backorder", "Stock is short; held by the backorder rule, service team told.", "exception"
    ),
    State(
        "partial_backorder",
        "Part of the order is at the warehouse (released or shipped); the rest waits for stock "
        "(the split rule, or a short pick under hold or split) and is released as a new part.",
        "exception",
    ),
    State("payment_failed", "Payment was voided or refunded before release.", "exception"),
    State("fraud_hold", "A fraud rule matched; held for review.", "exception"),
    State("invalid_address", "The shipping address cannot be shipped to.", "exception"),
    State(
        "quarantined", "Unknown SKU or unmapped customer: kept aside with its reason.", "exception"
    ),
    State(
        "cancelled",
        "Cancelled before release (or, under cancel_line, nothing was in stock); ERP order closed.",
        "final",
    ),
    State(
        "cancelled_after_release",
        "Cancelled after release (or every unit short-picked under cancel_line): warehouse "
        "cancelled, ERP closed, refunded, CRM updated.",
        "final",
    ),
)

GATE_SOURCES: tuple[str, ...] = (
    "erp_order_created",
    "crm_told",
    "payment_held",
    "fraud_hold",
    "payment_failed",
    "backorder",
)
"""States from which the release gate (payment, fraud, stock) is evaluated."""

GATE_TARGETS: tuple[str, ...] = (
    "payment_held",
    "fraud_hold",
    "payment_failed",
    "backorder",
    "partial_backorder",
    "released_to_warehouse",
)
"""Where the release gate can send an order."""

PRE_RELEASE: tuple[str, ...] = (
    "received",
    "validated",
    "erp_order_created",
    "crm_told",
    "payment_held",
    "fraud_hold",
    "payment_failed",
    "backorder",
    "invalid_address",
    "quarantined",
)
"""States in which a cancellation needs no warehouse compensation."""

POST_RELEASE: tuple[str, ...] = ("released_to_warehouse", "partially_shipped", "partial_backorder")
"""States in which a cancellation compensates (warehouse, ERP, channel refund, CRM)."""

_T = Transition
_FIXED = (
    _T("received", "validated", "order.placed", "SKUs known, stock checked, customer resolved"),
    _T("received", "quarantined", "order.placed", "unknown SKU or unmapped customer"),
    _T("received", "invalid_address", "order.placed", "shipping address incomplete"),
    _T("invalid_address", "validated", "order.updated", "address fixed"),
    _T("invalid_address", "quarantined", "order.updated", "address fixed, SKU or customer not"),
    _T("quarantined", "validated", "order.updated", "the reason is gone"),
    _T("quarantined", "invalid_address", "order.updated", "the reason is gone, address not"),
    _T("validated", "erp_order_created", "erp.sales_order.created", "ERP id linked"),
    _T("erp_order_created", "crm_told", "crm configured", "CRM order upsert asked for"),
    _T("released_to_warehouse", "partially_shipped", "shipment.created|updated", "part shipped"),
    _T("released_to_warehouse", "shipped", "shipment.created|updated", "everything shipped"),
    _T("partially_shipped", "shipped", "shipment.created|updated", "the rest shipped"),
    _T(
        "released_to_warehouse",
        "cancelled_after_release",
        "short pick",
        "cancel_line: the warehouse shipped nothing; every unit cancelled and refunded",
    ),
    _T(
        "released_to_warehouse",
        "partial_backorder",
        "short pick",
        "a final shipment fell short; the missing units wait for stock (hold, split)",
    ),
    _T(
        "partially_shipped",
        "partial_backorder",
        "short pick",
        "a final shipment fell short; the missing units wait for stock (hold, split)",
    ),
    _T(
        "partial_backorder",
        "released_to_warehouse",
        "order.stock_check|updated",
        "the backorder part released (nothing shipped yet)",
    ),
    _T(
        "partial_backorder",
        "partially_shipped",
        "order.stock_check|updated",
        "the backorder part released after an earlier part shipped",
    ),
    _T("shipped", "delivered", "shipment.updated", "every shipment delivered"),
    _T("delivered", "invoiced", "erp.invoice.created", "ERP invoice posted"),
    _T("invoiced", "closed", "paid", "the order is paid (at once, or on invoice.paid)"),
)
_GATE = tuple(
    _T(source, target, "release gate", "payment, fraud rules and stock decide")
    for source in GATE_SOURCES
    for target in GATE_TARGETS
    if source != target
)
_OUT_OF_STOCK = tuple(
    _T(source, "cancelled", "release gate", "cancel_line: no unit in stock, every line cancelled")
    for source in GATE_SOURCES
)
_CANCEL = tuple(
    _T(source, "cancelled", "order.cancelled", "close the ERP order, tell the CRM")
    for source in PRE_RELEASE
) + tuple(
    _T(source, "cancelled_after_release", "order.cancelled", "compensate in every system")
    for source in POST_RELEASE
)

MACHINE = StateMachine(
    name="order_fulfilment",
    initial="received",
    states=_STATES,
    transitions=_FIXED + _GATE + _OUT_OF_STOCK + _CANCEL,
)
"""The declared order-to-fulfilment machine."""
