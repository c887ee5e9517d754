// The order page's timeline (src/console/views/order.tsx): entries in the order things happened.
import { describe, expect, it } from "vitest";
import type { AdminOrderDetail } from "../../../src/admin/queries";
import { translator } from "../../../src/console/i18n";
import { timeline } from "../../../src/console/views/order";

const at = (ms: number) => new Date(Date.UTC(2026, 11, 5, 1, 16, 36) + ms).toISOString();

describe("console order timeline", () => {
  it("a refund WeChat settled within the second it was created is listed after its creation (success_time has whole seconds)", () => {
    const d = {
      order: { createdAt: at(555), amount: 3600 },
      history: [
        { from: "CREATED", to: "PAYING", source: "api", at: at(600), detail: null },
        { from: "PAYING", to: "PAID", source: "notify", at: at(700), detail: null },
      ],
      refunds: [{ id: "rfd_1", amount: 1200, status: "SUCCESS", reason: "demo", createdAt: at(800), settledAt: at(0) }],
      notifications: [],
      flags: [],
      fulfilment: null,
    } as unknown as AdminOrderDetail;
    const kinds = timeline(d, translator("en")).map((e) => e.kind);
    expect(kinds).toEqual(["created", "status", "status", "refund", "refund-settled"]);
  });
});
