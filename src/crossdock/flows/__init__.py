"""The process layer: business flows driven by canonical events.

- `crossdock.flows.engine`: the `FlowRunner` (event log -> pure decisions -> one transaction
  of state, outbox commands, events and links per event) and the `Flow` protocol.
- `crossdock.flows.machine`: declared state machines (`to_dict`, `to_mermaid` for the console).
- `crossdock.flows.order_fulfilment`: order to fulfilment.
- `crossdock.flows.registry`: the flows a governance file enables.

Flows make no HTTP calls and write no SQL: they read through the `Store` protocol and ports.
"""
