"""Ownership enforcement: examples of each conflict rule, and properties checked with hypothesis."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from crossdock.governance import (
    AttributeRule,
    ConflictRule,
    OwnershipPolicy,
    enforce_ownership,
)

SYSTEMS = ("shopify", "netsuite", "salesforce", "shipstation")
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def order_policy() -> OwnershipPolicy:
    return OwnershipPolicy(
        {
            "order": {
                "total": AttributeRule("netsuite", ConflictRule.OWNER_WINS),
                "lines": AttributeRule("shopify", ConflictRule.OWNER_WINS),
                "status": AttributeRule("netsuite", ConflictRule.LATEST_WINS),
                "financial_status": AttributeRule("netsuite", ConflictRule.FILL_IF_EMPTY),
                "note": AttributeRule("shopify", ConflictRule.QUARANTINE),
                "tags": AttributeRule(None, ConflictRule.OWNER_WINS),
            }
        }
    )


# -- examples ---------------------------------------------------------------------------------


def test_the_owner_changes_its_attribute_and_another_system_is_refused_with_a_reason() -> None:
    decision = enforce_ownership(
        order_policy(), "order", "shopify", {"total": "10.00", "lines": ["a"]}
    )

    assert dict(decision.accepted) == {"lines": ["a"]}
    (refusal,) = decision.refused
    assert refusal.attribute == "total"
    assert refusal.owner == "netsuite"
    assert refusal.rule is ConflictRule.OWNER_WINS
    assert (
        refusal.reason == "order.total is owned by netsuite; shopify may not change it (owner_wins)"
    )
    assert not decision.needs_quarantine


def test_latest_wins_takes_a_newer_change_and_refuses_an_older_or_undated_one() -> None:
    policy = order_policy()
    written = {"status": T0}

    newer = enforce_ownership(
        policy,
        "order",
        "shopify",
        {"status": "cancelled"},
        current={"status": "open"},
        changed_at=T0 + timedelta(seconds=1),
        current_changed_at=written,
    )
    older = enforce_ownership(
        policy,
        "order",
        "shopify",
        {"status": "cancelled"},
        current={"status": "open"},
        changed_at=T0 - timedelta(seconds=1),
        current_changed_at=written,
    )
    undated = enforce_ownership(policy, "order", "shopify", {"status": "cancelled"})

    assert dict(newer.accepted) == {"status": "cancelled"}
    assert older.refused_attributes == {"status"}
    assert "not newer" in older.refused[0].reason
    assert undated.refused_attributes == {"status"}
    assert "no time" in undated.refused[0].reason


def test_fill_if_empty_lets_another_system_fill_an_empty_value_only() -> None:
    policy = order_policy()

    new_entity = enforce_ownership(
        policy, "order", "shopify", {"financial_status": "paid"}, current={}
    )
    has_value = enforce_ownership(
        policy, "order", "shopify", {"financial_status": "paid"}, current={"financial_status": "x"}
    )
    unknown = enforce_ownership(policy, "order", "shopify", {"financial_status": "paid"})

    assert new_entity.accepted_attributes == {"financial_status"}
    assert has_value.refused_attributes == {"financial_status"}
    assert "has a value" in has_value.refused[0].reason
    assert unknown.refused_attributes == {"financial_status"}
    assert "unknown" in unknown.refused[0].reason


def test_quarantine_refuses_and_asks_for_review() -> None:
    decision = enforce_ownership(order_policy(), "order", "netsuite", {"note": "hold"})

    assert decision.refused_attributes == {"note"}
    assert decision.refused[0].quarantine
    assert decision.needs_quarantine
    assert "held for review" in decision.refused[0].reason


def test_sending_the_current_value_again_changes_nothing_and_is_accepted() -> None:
    decision = enforce_ownership(
        order_policy(), "order", "shopify", {"total": "10.00"}, current={"total": "10.00"}
    )

    assert dict(decision.accepted) == {"total": "10.00"}
    assert decision.refused == ()


def test_unowned_unknown_attributes_and_unknown_entities_are_refused() -> None:
    policy = order_policy()

    unowned = enforce_ownership(policy, "order", "netsuite", {"tags": ["vip"], "totl": "1"})
    unknown_entity = enforce_ownership(policy, "shipment", "shipstation", {"carrier": "ups"})

    reasons = {refusal.attribute: refusal.reason for refusal in unowned.refused}
    assert reasons == {
        "tags": "order.tags has no owner; nobody may change it",
        "totl": "order.totl is not an attribute of order",
    }
    assert unknown_entity.refused[0].reason == "shipment has no ownership policy"


# -- properties -------------------------------------------------------------------------------

ATTRIBUTES = ("a", "b", "c", "d", "e", "f")
values = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.text(alphabet="xy", max_size=2),
    st.lists(st.integers(0, 2), max_size=2),
)
rules = st.builds(
    AttributeRule,
    owner=st.one_of(st.none(), st.sampled_from(SYSTEMS)),
    rule=st.sampled_from(ConflictRule),
)
policies = st.dictionaries(st.sampled_from(ATTRIBUTES), rules, max_size=len(ATTRIBUTES)).map(
    lambda attrs: OwnershipPolicy({"thing": attrs})
)
# Changes may name attributes the policy does not know ("z").
changes = st.dictionaries(st.sampled_from((*ATTRIBUTES, "z")), values, max_size=7)
currents = st.one_of(st.none(), st.dictionaries(st.sampled_from(ATTRIBUTES), values, max_size=6))
times = st.one_of(st.none(), st.integers(-5, 5).map(lambda s: T0 + timedelta(seconds=s)))
written_times = st.dictionaries(
    st.sampled_from(ATTRIBUTES), st.integers(-5, 5).map(lambda s: T0 + timedelta(seconds=s))
)


def _decide(
    policy: OwnershipPolicy,
    source: str,
    change: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    changed_at: datetime | None,
    written: Mapping[str, datetime],
) -> Any:
    return enforce_ownership(
        policy,
        "thing",
        source,
        change,
        current=current,
        changed_at=changed_at,
        current_changed_at=written,
    )


@given(policies, st.sampled_from(SYSTEMS), changes, currents, times, written_times)
def test_every_changed_attribute_is_either_accepted_or_refused(
    policy: OwnershipPolicy,
    source: str,
    change: dict[str, Any],
    current: dict[str, Any] | None,
    changed_at: datetime | None,
    written: dict[str, datetime],
) -> None:
    decision = _decide(policy, source, change, current, changed_at, written)

    assert decision.accepted_attributes | decision.refused_attributes == set(change)
    assert not decision.accepted_attributes & decision.refused_attributes
    assert len(decision.refused) == len(decision.refused_attributes)
    assert all(decision.accepted[name] == change[name] for name in decision.accepted)


@given(policies, st.sampled_from(SYSTEMS), changes, currents, times, written_times)
def test_the_owner_is_always_accepted(
    policy: OwnershipPolicy,
    source: str,
    change: dict[str, Any],
    current: dict[str, Any] | None,
    changed_at: datetime | None,
    written: dict[str, datetime],
) -> None:
    decision = _decide(policy, source, change, current, changed_at, written)

    owned = {name for name in change if (r := policy.rule_for("thing", name)) and r.owner == source}
    assert owned <= decision.accepted_attributes


@given(policies, st.sampled_from(SYSTEMS), changes, currents, times, written_times)
def test_a_non_owner_never_changes_an_owner_wins_or_quarantined_attribute(
    policy: OwnershipPolicy,
    source: str,
    change: dict[str, Any],
    current: dict[str, Any] | None,
    changed_at: datetime | None,
    written: dict[str, datetime],
) -> None:
    decision = _decide(policy, source, change, current, changed_at, written)

    for name in decision.accepted:
        rule = policy.rule_for("thing", name)
        assert rule is not None
        assert rule.owner is not None
        if rule.owner != source and rule.rule in {ConflictRule.OWNER_WINS, ConflictRule.QUARANTINE}:
            # Only the value it already has may come from someone else: no change at all.
            assert current is not None
            assert current.get(name, object()) == change[name]


@given(policies, st.sampled_from(SYSTEMS), changes, currents, times, written_times)
def test_each_rule_accepts_a_non_owner_exactly_when_it_says_so(
    policy: OwnershipPolicy,
    source: str,
    change: dict[str, Any],
    current: dict[str, Any] | None,
    changed_at: datetime | None,
    written: dict[str, datetime],
) -> None:
    decision = _decide(policy, source, change, current, changed_at, written)

    for name, value in change.items():
        rule = policy.rule_for("thing", name)
        if rule is None or rule.owner is None or rule.owner == source:
            continue
        unchanged = current is not None and name in current and current[name] == value
        match rule.rule:
            case ConflictRule.OWNER_WINS | ConflictRule.QUARANTINE:
                expected = unchanged
            case ConflictRule.FILL_IF_EMPTY:
                empty = current is not None and current.get(name) in (None, "", [])
                expected = unchanged or empty
            case ConflictRule.LATEST_WINS:
                newer = changed_at is not None and (
                    name not in written or changed_at > written[name]
                )
                expected = unchanged or newer
        assert (name in decision.accepted) is expected, (name, rule, value)


@given(policies, st.sampled_from(SYSTEMS), changes, currents, times, written_times)
def test_refusals_explain_themselves_and_only_quarantine_asks_for_review(
    policy: OwnershipPolicy,
    source: str,
    change: dict[str, Any],
    current: dict[str, Any] | None,
    changed_at: datetime | None,
    written: dict[str, datetime],
) -> None:
    decision = _decide(policy, source, change, current, changed_at, written)

    for refusal in decision.refused:
        assert f"thing.{refusal.attribute}" in refusal.reason
        assert "\n" not in refusal.reason
        if refusal.owner is not None:
            assert refusal.owner in refusal.reason
            assert source in refusal.reason
        assert refusal.quarantine == (refusal.rule is ConflictRule.QUARANTINE)
    assert decision.needs_quarantine == any(r.quarantine for r in decision.refused)


@given(policies, st.sampled_from(SYSTEMS), changes, currents, times, written_times)
def test_the_decision_is_deterministic_and_ignores_the_order_of_the_change(
    policy: OwnershipPolicy,
    source: str,
    change: dict[str, Any],
    current: dict[str, Any] | None,
    changed_at: datetime | None,
    written: dict[str, datetime],
) -> None:
    first = _decide(policy, source, change, current, changed_at, written)
    again = _decide(policy, source, change, current, changed_at, written)
    reversed_change = dict(reversed(list(change.items())))
    reordered = _decide(policy, source, reversed_change, current, changed_at, written)

    assert first == again == reordered
    assert [r.attribute for r in first.refused] == sorted(first.refused_attributes)
