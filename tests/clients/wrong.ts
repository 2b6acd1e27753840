// Wrong uses of Kassa's generated types: tests/test_clients.py compiles this file with
// --strict and expects an error on exactly the lines marked "wrong", no more, no fewer.
import type { components, paths } from "./kassa";

type Order = components["schemas"]["Order"];
type Refund = components["schemas"]["Refund"];
type OpenBody =
  paths["/create-payment-intent"]["post"]["requestBody"]["content"]["application/json"];
type RefundBody =
  paths["/orders/{orderId}/refunds"]["post"]["requestBody"]["content"]["application/json"];

export const amountAsText: OpenBody = { amount: "10" }; // wrong
export const misspelled: OpenBody = { externalID: "A-1" }; // wrong
export const unknownReason: RefundBody = { reason: "changed_my_mind" }; // wrong

export function mistakes(order: Order, refund: Refund): void {
  const status: "open" = order.status; // wrong
  const paidAt: string = order.paidAt; // wrong
  const amount: number = refund.amount; // wrong
  const customer = order.customerPhone; // wrong
  console.log(status, paidAt, amount, customer);
}
