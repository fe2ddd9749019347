"""The canonical customer (``customer.v1``): a consumer, or a business account with contacts."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from crossdock.canonical.address import Address
from crossdock.canonical.base import CanonicalModel, HubId, NonEmptyStr, Timestamp
from crossdock.canonical.money import Money
from crossdock.canonical.refs import CustomerKind

__all__ = ["Account", "Contact", "Customer", "CustomerAddress"]


class Account(CanonicalModel):
    """The company behind a business customer (a Salesforce Account, an ERP customer record).

    Attributes:
        number: the account number people use (not another system's internal id).
        payment_terms: e.g. ``"NET30"``.
        credit_limit: the ERP's credit limit, when it has one.
    """

    name: NonEmptyStr
    number: str | None = None
    tax_id: str | None = None
    industry: str | None = None
    website: str | None = None
    payment_terms: str | None = None
    credit_limit: Money | None = None


class Contact(CanonicalModel):
    """A person at a business customer."""

    first_name: str | None = None
    last_name: NonEmptyStr
    email: str | None = None
    phone: str | None = None
    role: str | None = None
    primary: bool = False


class CustomerAddress(Address):
    """An address of a customer, and what it is the default for."""

    default_for: list[Literal["billing", "shipping"]] = Field(default_factory=list)


class Customer(CanonicalModel):
    """A customer (``customer.v1``).

    A business customer has an `account` (and usually contacts); a consumer has none.

    Attributes:
        id: hub id; None until linked.
        kind: ``"business"`` or ``"consumer"``.
        marketing_consent: None when the source does not say.
    """

    schema_version: Literal["customer.v1"] = "customer.v1"
    id: HubId | None = None
    kind: CustomerKind
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    account: Account | None = None
    contacts: list[Contact] = Field(default_factory=list)
    addresses: list[CustomerAddress] = Field(default_factory=list)
    currency: str | None = None
    tags: list[str] = Field(default_factory=list)
    marketing_consent: bool | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None

    @model_validator(mode="after")
    def _account_matches_kind(self) -> Self:
        if self.kind == "business" and self.account is None:
            raise ValueError("a business customer needs an account")
        if self.kind == "consumer" and self.account is not None:
            raise ValueError("a consumer has no account; use kind='business'")
        return self
