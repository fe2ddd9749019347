"""The demo's terminal output: the live view, plain progress lines and the final summary."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from crossdock.hub.demo.stats import NOT_BUILT, DemoSnapshot

__all__ = ["grouped", "live_view", "not_built_note", "plain_line", "summary_view"]


def _header(snap: DemoSnapshot) -> Text:
    target = f"/{snap.orders_target}" if snap.orders_target is not None else ""
    text = Text()
    text.append("Crossdock demo", style="bold")
    text.append(f"  [{snap.phase}]  {snap.elapsed_s:6.1f} s\n")
    text.append(f"API       {snap.api_url}   (GET /v1/orders/{{id}}, /healthz, /metrics)\n")
    text.append(f"Manifest  {snap.manifest_path}\nStore     {snap.store_path}\n")
    text.append(
        f"Orders placed {snap.orders_placed}{target} at {snap.rate:g}/s   "
        f"throughput: {snap.per_second(snap.orders_placed):.1f} orders/s, "
        f"{snap.per_second(snap.deliveries_total):.1f} deliveries/s, "
        f"{snap.per_second(snap.events_total):.1f} events/s"
    )
    return text


def _systems(snap: DemoSnapshot) -> Table:
    table = Table(
        title="Systems: deliveries in (ingress, decoder), commands out (queue, breaker)",
        expand=True,
    )
    for column in ("system", "received", "dup absorbed", "refused", "decoded", "dead", "quar."):
        table.add_column(column, justify="left" if column == "system" else "right")
    table.add_column("waiting", justify="right")
    table.add_column("queue", justify="right")
    table.add_column("breaker")
    table.add_column("note", overflow="fold")
    for row in snap.systems:
        table.add_row(
            f"{row.name} ({row.kind})",
            str(row.received),
            str(row.duplicates),
            str(row.refused),
            str(row.decoded),
            str(row.dead),
            str(row.quarantined),
            str(row.waiting),
            str(row.queue_depth),
            row.breaker or "-",
            row.note or ("receiving" if row.receiving else ""),
        )
    return table


def _events(snap: DemoSnapshot) -> Table:
    table = Table(title="Canonical events by type")
    table.add_column("type")
    table.add_column("count", justify="right")
    for kind, count in snap.events_by_type.items():
        table.add_row(kind, str(count))
    table.add_row(Text("total", style="bold"), Text(str(snap.events_total), style="bold"))
    return table


def _simulators(snap: DemoSnapshot) -> Table:
    table = Table(title="Simulators (webhooks sent to the hub)")
    for column in ("simulator", "URL", "subscribed"):
        table.add_column(column, overflow="fold")
    for column in ("sent", "acked", "pending", "failed"):
        table.add_column(column, justify="right")
    table.add_column("chaos")
    for row in snap.simulators:
        chaos = ", ".join(f"{k} {v}" for k, v in sorted(row.chaos.items())) or "-"
        table.add_row(
            row.name,
            row.url or row.status,
            ", ".join(row.subscribed) or "-",
            str(row.emitted),
            str(row.delivered),
            str(row.pending),
            str(row.failed),
            chaos,
        )
    return table


_QUOTED = re.compile(r"'[^']*'|\[[^\]]*\]|#\d+|\b\d{5,}\b")


def grouped(reasons: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    """Reasons with their ids blanked out (``'…'``), so one cause shows as one row."""
    found: Counter[tuple[str, str]] = Counter()
    for (where, reason), count in reasons.items():
        found[(where, _QUOTED.sub("…", reason))] += count
    return dict(found)


def _dead(snap: DemoSnapshot) -> Table | Text:
    if not snap.dead_reasons:
        return Text("Dead inbox rows and quarantines: none", style="green")
    table = Table(title="Dead inbox rows and quarantines (deliveries kept with their reason)")
    table.add_column("source")
    table.add_column("count", justify="right")
    table.add_column("reason", overflow="fold")
    for (source, reason), count in sorted(grouped(snap.dead_reasons).items()):
        table.add_row(source, str(count), reason)
    return table


def not_built_note() -> Text:
    """The plain statement of what the demo does not reach."""
    return Text("Not reached in the demo: " + "; ".join(NOT_BUILT) + ".", style="yellow")


def _flows(snap: DemoSnapshot) -> Table | Text:
    if not snap.flow_states:
        return Text("Orders by flow state: the order flow has seen no order yet")
    table = Table(title="Orders by flow state (order_fulfilment instances)")
    table.add_column("state")
    table.add_column("orders", justify="right")
    for state, count in snap.flow_states.items():
        table.add_row(state, str(count))
    return table


def _results(snap: DemoSnapshot) -> Table | Text:
    results = snap.results_by_type
    if not results:
        return Text("Result events: none yet")
    table = Table(title="Commands performed: result events by type")
    table.add_column("type")
    table.add_column("count", justify="right")
    for kind, count in results.items():
        table.add_row(kind, str(count))
    return table


def _effects(snap: DemoSnapshot) -> Table | Text:
    rows = [
        (sim, kind, count)
        for sim, kinds in sorted(snap.effects.items())
        for kind, count in kinds.items()
        if kind != "inventory"
    ]
    if not rows:
        return Text("Simulators' effect ledgers: nothing created yet")
    table = Table(title="What each system really did (simulators' effect ledgers, keys created)")
    table.add_column("simulator")
    table.add_column("kind")
    table.add_column("keys", justify="right")
    for sim, kind, count in rows:
        table.add_row(sim, kind, str(count))
    return table


def _dead_letters(snap: DemoSnapshot) -> Table | Text:
    if not snap.dead_letters:
        return Text("Dead-lettered commands: none", style="green")
    table = Table(title="Dead-lettered commands by destination (with the system's reason)")
    table.add_column("destination")
    table.add_column("count", justify="right")
    table.add_column("reason", overflow="fold")
    for (destination, reason), count in sorted(grouped(snap.dead_letters).items()):
        table.add_row(destination, str(count), reason)
    return table


def live_view(snap: DemoSnapshot) -> RenderableType:
    """The live view of one snapshot."""
    return Panel(
        Group(
            _header(snap),
            _systems(snap),
            _flows(snap),
            _results(snap),
            _effects(snap),
            _simulators(snap),
            _dead_letters(snap),
            _dead(snap),
            not_built_note(),
        ),
        subtitle="Ctrl-C stops the demo",
    )


def plain_line(snap: DemoSnapshot) -> str:
    """One progress line (for logs and CI)."""
    target = f"/{snap.orders_target}" if snap.orders_target is not None else ""
    dead = sum(snap.dead_reasons.values())
    states = ", ".join(f"{k} {v}" for k, v in snap.flow_states.items()) or "-"
    return (
        f"[{snap.elapsed_s:6.1f}s] {snap.phase}: orders {snap.orders_placed}{target}, "
        f"deliveries {snap.deliveries_total} "
        f"(dup absorbed {sum(s.duplicates for s in snap.systems)}), "
        f"events {snap.events_total}, waiting {snap.waiting}, dead/quarantined {dead}, "
        f"queued {sum(s.queue_depth for s in snap.systems)}, "
        f"dead commands {sum(snap.dead_letters.values())}; states: {states}"
    )


def _drained(*, drained: bool, interrupted: bool) -> str:
    if drained:
        return "yes"
    return "no (stopped before draining)" if interrupted else "NO (bounded wait ran out)"


def summary_view(
    snap: DemoSnapshot,
    *,
    drained: bool,
    sample_order: int | None,
    interrupted: bool = False,
) -> RenderableType:
    """The summary printed when a demo ends (`interrupted`: stopped by Ctrl-C or SIGTERM)."""
    table = Table(title="Crossdock demo summary", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    dead = sum(c for (_, reason), c in snap.dead_reasons.items() if "quarantined" not in reason)
    quarantined = sum(snap.dead_reasons.values()) - dead
    sent = sum(s.emitted for s in snap.simulators)
    acked = sum(s.delivered for s in snap.simulators)
    rows = [
        ("orders placed", str(snap.orders_placed)),
        ("webhooks sent by the simulators", str(sent)),
        ("webhooks delivered (acknowledged with a 2xx)", str(acked)),
        ("deliveries received by the hub (with duplicates)", str(snap.deliveries_total)),
        ("inbox rows (new deliveries)", str(sum(s.received for s in snap.systems))),
        ("duplicates absorbed", str(sum(s.duplicates for s in snap.systems))),
        ("inbox rows decoded", str(sum(s.decoded for s in snap.systems))),
        ("dead inbox rows", str(dead)),
        ("quarantined", str(quarantined)),
        ("inbox rows still waiting", str(snap.waiting)),
        ("canonical events", str(snap.events_total)),
    ]
    rows += [(f"  {kind}", str(count)) for kind, count in snap.events_by_type.items()]
    rows += [("orders by flow state", str(sum(snap.flow_states.values())))]
    rows += [(f"  {state}", str(count)) for state, count in snap.flow_states.items()]
    rows += [
        ("commands still queued", str(sum(s.queue_depth for s in snap.systems))),
        ("dead-lettered commands", str(sum(snap.dead_letters.values()))),
    ]
    rows += [
        ("storefront restocks", str(snap.restocks)),
        ("elapsed (start-up included)", f"{snap.elapsed_s:.1f} s"),
        ("traffic time (since the first order)", f"{snap.traffic_s:.1f} s"),
        (
            "throughput",
            f"{snap.per_second(snap.orders_placed):.1f} orders/s, "
            f"{snap.per_second(snap.events_total):.1f} events/s",
        ),
        ("drained", _drained(drained=drained, interrupted=interrupted)),
    ]
    for what, value in rows:
        table.add_row(what, value)
    parts: list[RenderableType] = [
        table,
        _effects(snap),
        _dead_letters(snap),
        _dead(snap),
        not_built_note(),
    ]
    parts.append(Text(f"Store: {snap.store_path}"))
    if sample_order is not None:
        parts.append(
            Text(f"Try: crossdock order show {sample_order} --database-url {snap.store_path}")
        )
    return Group(*parts)
