"""The part of the Shopify Admin GraphQL schema the simulator serves, per API version."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from graphql import GraphQLError, GraphQLSchema, ValueNode, build_schema

_COMMON = """
scalar DateTime
scalar Decimal
scalar URL
scalar UnsignedInt64
directive @idempotent(key: String!) on FIELD

type Query {
  shop: Shop!
  inventoryItem(id: ID!): InventoryItem
  inventoryLevel(id: ID!): InventoryLevel
  location(id: ID!): Location
  productVariant(id: ID!): ProductVariant
  product(id: ID!): Product
  order(id: ID!): Order
  orders(first: Int, after: String, last: Int, before: String, query: String,
         sortKey: OrderSortKeys, reverse: Boolean): OrderConnection!
}

type Mutation {
  inventorySetQuantities(input: InventorySetQuantitiesInput!): InventorySetQuantitiesPayload
  fulfillmentCreate(fulfillment: FulfillmentInput!, message: String): FulfillmentCreatePayload
  productVariantsBulkUpdate(productId: ID!, variants: [ProductVariantsBulkInput!]!):
    ProductVariantsBulkUpdatePayload
  orderEditBegin(id: ID!): OrderEditBeginPayload
  orderEditSetQuantity(id: ID!, lineItemId: ID!, quantity: Int!, restock: Boolean):
    OrderEditSetQuantityPayload
  orderEditAddVariant(id: ID!, variantId: ID!, quantity: Int!, locationId: ID,
                      allowDuplicates: Boolean): OrderEditAddVariantPayload
  orderEditCommit(id: ID!, notifyCustomer: Boolean, staffNote: String): OrderEditCommitPayload
  refundCreate(input: RefundInput!): RefundCreatePayload
  tagsAdd(id: ID!, tags: [String!]!): TagsAddPayload
  tagsRemove(id: ID!, tags: [String!]!): TagsRemovePayload
  orderUpdate(input: OrderInput!): OrderUpdatePayload
}

interface Node { id: ID! }
type TagsAddPayload { node: Node userErrors: [UserError!]! }
type TagsRemovePayload { node: Node userErrors: [UserError!]! }
input OrderInput { id: ID! email: String note: String phone: String tags: [String!] }
type OrderUpdatePayload { order: Order userErrors: [UserError!]! }

type CalculatedLineItem {
  id: ID!
  quantity: Int!
  editableQuantity: Int!
  editableQuantityBeforeChanges: Int!
  sku: String
  title: String!
  originalUnitPriceSet: MoneyBag!
}
type CalculatedLineItemConnection { nodes: [CalculatedLineItem!]! }
type CalculatedOrder {
  id: ID!
  originalOrder: Order!
  lineItems(first: Int): CalculatedLineItemConnection!
  addedLineItems(first: Int): CalculatedLineItemConnection!
  subtotalPriceSet: MoneyBag
  totalPriceSet: MoneyBag!
  totalTaxSet: MoneyBag
}
type OrderEditBeginPayload { calculatedOrder: CalculatedOrder userErrors: [UserError!]! }
type OrderEditSetQuantityPayload {
  calculatedOrder: CalculatedOrder
  calculatedLineItem: CalculatedLineItem
  userErrors: [UserError!]!
}
type OrderEditAddVariantPayload {
  calculatedOrder: CalculatedOrder
  calculatedLineItem: CalculatedLineItem
  userErrors: [UserError!]!
}
type OrderEditCommitPayload { order: Order successMessages: [String!] userErrors: [UserError!]! }

scalar Money
enum RefundLineItemRestockType { RETURN CANCEL LEGACY_RESTOCK NO_RESTOCK }
enum OrderTransactionKind { SALE CAPTURE AUTHORIZATION VOID REFUND CHANGE EMV_AUTHORIZATION
  SUGGESTED_REFUND }
input RefundLineItemInput {
  lineItemId: ID!
  quantity: Int!
  restockType: RefundLineItemRestockType
  locationId: ID
}
input ShippingRefundInput { amount: Money fullRefund: Boolean }
input OrderTransactionInput {
  orderId: ID!
  gateway: String!
  kind: OrderTransactionKind!
  amount: Money!
  parentId: ID
}
input RefundInput {
  orderId: ID!
  note: String
  notify: Boolean
  shipping: ShippingRefundInput
  refundLineItems: [RefundLineItemInput!]
  transactions: [OrderTransactionInput!]
}
type Refund {
  id: ID!
  legacyResourceId: UnsignedInt64!
  note: String
  createdAt: DateTime
  totalRefundedSet: MoneyBag!
}
type RefundCreatePayload { refund: Refund order: Order userErrors: [UserError!]! }

enum OrderSortKeys { ID UPDATED_AT CREATED_AT PROCESSED_AT }

type Shop { name: String! myshopifyDomain: String! currencyCode: String! }

type Location { id: ID! legacyResourceId: UnsignedInt64! name: String! isActive: Boolean! }

type InventoryItem {
  id: ID!
  legacyResourceId: UnsignedInt64!
  sku: String
  tracked: Boolean!
  inventoryLevel(locationId: ID!): InventoryLevel
  variant: ProductVariant!
}

type InventoryLevel {
  id: ID!
  quantities(names: [String!]!): [InventoryQuantity!]!
  location: Location!
  item: InventoryItem!
  updatedAt: DateTime!
}

type InventoryQuantity { id: ID! name: String! quantity: Int! updatedAt: DateTime }

type ProductVariant {
  id: ID!
  legacyResourceId: UnsignedInt64!
  sku: String
  title: String!
  price: Decimal!
  compareAtPrice: Decimal
  barcode: String
  inventoryQuantity: Int
  inventoryItem: InventoryItem!
  product: Product!
  updatedAt: DateTime!
}

type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection { nodes: [ProductVariant!]! edges: [ProductVariantEdge!]! }

type Product {
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  handle: String!
  status: String!
  vendor: String!
  tags: [String!]!
  updatedAt: DateTime!
  variants(first: Int): ProductVariantConnection!
}

type MoneyV2 { amount: Decimal! currencyCode: String! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }

type FulfillmentOrderLineItem {
  id: ID!
  totalQuantity: Int!
  remainingQuantity: Int!
  sku: String
  lineItemId: ID!
}
type FulfillmentOrderLineItemEdge { cursor: String! node: FulfillmentOrderLineItem! }
type FulfillmentOrderLineItemConnection {
  nodes: [FulfillmentOrderLineItem!]!
  edges: [FulfillmentOrderLineItemEdge!]!
}

type FulfillmentOrder {
  id: ID!
  status: String!
  requestStatus: String!
  lineItems(first: Int): FulfillmentOrderLineItemConnection!
}
type FulfillmentOrderEdge { cursor: String! node: FulfillmentOrder! }
type FulfillmentOrderConnection { nodes: [FulfillmentOrder!]! edges: [FulfillmentOrderEdge!]! }

type Order implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  email: String
  note: String
  tags: [String!]!
  createdAt: DateTime!
  updatedAt: DateTime!
  processedAt: DateTime!
  cancelledAt: DateTime
  cancelReason: String
  closedAt: DateTime
  test: Boolean!
  currencyCode: String!
  presentmentCurrencyCode: String!
  displayFinancialStatus: String
  displayFulfillmentStatus: String!
  totalPriceSet: MoneyBag!
  subtotalPriceSet: MoneyBag
  totalTaxSet: MoneyBag
  totalDiscountsSet: MoneyBag
  totalShippingPriceSet: MoneyBag!
  currentTotalPriceSet: MoneyBag!
  fulfillmentOrders(first: Int): FulfillmentOrderConnection!
}

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { nodes: [Order!]! edges: [OrderEdge!]! pageInfo: PageInfo! }

type InventoryChange {
  name: String!
  delta: Int!
  quantityAfterChange: Int
  item: InventoryItem
  location: Location
}

type InventoryAdjustmentGroup {
  id: ID!
  createdAt: DateTime!
  reason: String!
  referenceDocumentUri: String
  changes(inventoryItemIds: [ID!], locationIds: [ID!], quantityNames: [String!]):
    [InventoryChange!]!
}

enum InventorySetQuantitiesUserErrorCode {
  INVALID_INVENTORY_ITEM
  INVALID_LOCATION
  INVALID_NAME
  INVALID_REASON
  INVALID_REFERENCE_DOCUMENT
  INVALID_QUANTITY_NEGATIVE
  INVALID_QUANTITY_TOO_HIGH
  NON_MUTABLE_INVENTORY_ITEM
  ITEM_NOT_STOCKED_AT_LOCATION
  COMPARE_QUANTITY_REQUIRED
  COMPARE_QUANTITY_STALE
  CHANGE_FROM_QUANTITY_STALE
  NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR
  IDEMPOTENCY_CONCURRENT_REQUEST
  IDEMPOTENCY_KEY_PARAMETER_MISMATCH
  IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED
}

type InventorySetQuantitiesUserError {
  code: InventorySetQuantitiesUserErrorCode
  field: [String!]
  message: String!
}

type InventorySetQuantitiesPayload {
  inventoryAdjustmentGroup: InventoryAdjustmentGroup
  userErrors: [InventorySetQuantitiesUserError!]!
}

input FulfillmentOrderLineItemInput { id: ID! quantity: Int! }
input FulfillmentOrderLineItemsInput {
  fulfillmentOrderId: ID!
  fulfillmentOrderLineItems: [FulfillmentOrderLineItemInput!]
}
input FulfillmentTrackingInput {
  number: String
  numbers: [String!]
  url: URL
  urls: [URL!]
  company: String
}
input FulfillmentInput {
  lineItemsByFulfillmentOrder: [FulfillmentOrderLineItemsInput!]!
  trackingInfo: FulfillmentTrackingInput
  notifyCustomer: Boolean = false
}

type FulfillmentTrackingInfo { company: String number: String url: URL }
type Fulfillment {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  status: String!
  createdAt: DateTime!
  trackingInfo(first: Int): [FulfillmentTrackingInfo!]!
}
type UserError { field: [String!] message: String! }
type FulfillmentCreatePayload { fulfillment: Fulfillment userErrors: [UserError!]! }

input ProductVariantsBulkInput { id: ID price: Decimal compareAtPrice: Decimal barcode: String }
type ProductVariantsBulkUpdateUserError { code: String field: [String!] message: String! }
type ProductVariantsBulkUpdatePayload {
  product: Product
  productVariants: [ProductVariant!]
  userErrors: [ProductVariantsBulkUpdateUserError!]!
}
"""

# Until 2026-01 compare-and-set used compareQuantity/ignoreCompareQuantity; 2026-01 added
# changeFromQuantity; 2026-04 removed the old fields (and made the new one mandatory at run time).
_INPUTS_BEFORE_2026_04 = """
input InventoryQuantityInput {
  inventoryItemId: ID!
  locationId: ID!
  quantity: Int!
  compareQuantity: Int
  changeFromQuantity: Int
}
input InventorySetQuantitiesInput {
  name: String!
  reason: String!
  referenceDocumentUri: String
  ignoreCompareQuantity: Boolean = false
  quantities: [InventoryQuantityInput!]!
}
"""

_INPUTS_FROM_2026_04 = """
input InventoryQuantityInput {
  inventoryItemId: ID!
  locationId: ID!
  quantity: Int!
  changeFromQuantity: Int
}
input InventorySetQuantitiesInput {
  name: String!
  reason: String!
  referenceDocumentUri: String
  quantities: [InventoryQuantityInput!]!
}
"""


def strict_version(version: str) -> bool:
    """Whether ``version`` is 2026-04 or later (changeFromQuantity and @idempotent mandatory)."""
    return version == "unstable" or version >= "2026-04"


def _parse_decimal_literal(node: ValueNode, _variables: Any = None) -> Decimal:
    raw = getattr(node, "value", None)
    try:
        return Decimal(str(raw))
    except (InvalidOperation, ValueError) as exc:
        raise GraphQLError(f"Decimal expected, got {raw!r}") from exc


def _parse_decimal_value(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise GraphQLError(f"Decimal expected, got {value!r}") from exc


@cache
def schema_for(version: str) -> GraphQLSchema:
    """The schema served under API ``version``."""
    inputs = _INPUTS_FROM_2026_04 if strict_version(version) else _INPUTS_BEFORE_2026_04
    schema = build_schema(_COMMON + inputs)
    for name in ("Decimal", "Money"):
        decimal = schema.type_map[name]
        decimal.parse_literal = _parse_decimal_literal  # type: ignore[attr-defined]
        decimal.parse_value = _parse_decimal_value  # type: ignore[attr-defined]
        decimal.serialize = str  # type: ignore[attr-defined]
    return schema
