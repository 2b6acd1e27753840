// A provider's backend typed by the types openapi-typescript generates from Kassa's
// document (kassa.d.ts, made by tests/test_clients.py); it must compile under --strict.
import type { components, paths } from "./kassa";

type Order = components["schemas"]["Order"];
type Refund = components["schemas"]["Refund"];
type OpenBody =
  paths["/create-payment-intent"]["post"]["requestBody"]["content"]["application/json"];
type Opened =
  paths["/create-payment-intent"]["post"]["responses"][200]["content"]["application/json"];
type RefundBody =
  paths["/orders/{orderId}/refunds"]["post"]["requestBody"]["content"]["application/json"];
type Refunded =
  paths["/orders/{orderId}/refunds"]["post"]["responses"][201]["content"]["application/json"];
type LinkChange = components["schemas"]["UpdatePaymentLink"];

const open: OpenBody = { externalId: "A-1", amount: 10 };
const refund: RefundBody = { amount: 4, reason: "requested_by_customer" };
const turnOff: LinkChange = { active: false, expiresAt: null };

export async function openAndRefund(base: string, key: string): Promise<Refund> {
  const headers = { Authorization: `Bearer ${key}`, "Content-Type": "application/json" };
  const answer = await fetch(`${base}/api/v1/create-payment-intent`, {
    method: "POST",
    headers,
    body: JSON.stringify(open),
  });
  const order: Opened = await answer.json();
  const url: string = order.checkoutUrl;
  const paidAt: string | null = order.paidAt;
  const refunds = await fetch(`${base}/api/v1/orders/${order.orderId}/refunds`, {
    method: "POST",
    headers,
    body: JSON.stringify(refund),
  });
  const made: Refunded = await refunds.json();
  console.log(url, paidAt, turnOff);
  return made;
}

export function isSettled(order: Order): boolean {
  switch (order.status) {
    case "paid":
    case "refunded":
    case "partially_refunded":
      return true;
    default:
      return false;
  }
}

export function refundedShare(order: Order, refund: Refund): number {
  // Both nullable: a strict compile makes the code say what null means.
  return (refund.amount ?? 0) / (order.paidAmount ?? order.amount);
}
