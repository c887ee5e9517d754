// Order status: what the server says (GET /v1/orders/:id?sync=true). While the order is still
// awaiting payment it checks a few more times; pull down to check again.
import { api } from "../../api/client";
import type { Order } from "../../api/types";
import { errorText, localTime, LOGISTICS_TEXT, SHIPPING_TEXT, STATUS_TEXT, yuan } from "../../utils/format";
import { confirmOrder, CONFIRM, isSettled } from "../../utils/payment";

type OrderView = Order & {
  statusText: string;
  amountText: string;
  refundedText: string;
  paidAtText: string;
  lines: (Order["items"][number] & { totalText: string })[];
  /** Shipping (SPEC §9): null until paid; tracking numbers for courier parcels. */
  shippingText: string;
  logisticsText: string;
  tracking: { trackingNo: string; expressCompany: string }[];
};

function view(o: Order): OrderView {
  return {
    ...o,
    statusText: STATUS_TEXT[o.status],
    amountText: yuan(o.amount),
    refundedText: yuan(o.refundedAmount),
    paidAtText: localTime(o.paidAt),
    lines: o.items.map((i) => ({ ...i, totalText: yuan(i.unitPrice * i.quantity) })),
    shippingText: o.shipping ? SHIPPING_TEXT[o.shipping.status] : "",
    logisticsText: o.shipping?.logisticsType ? LOGISTICS_TEXT[o.shipping.logisticsType] : "",
    tracking: (o.shipping?.parcels ?? [])
      .filter((p) => p.trackingNo)
      .map((p) => ({ trackingNo: p.trackingNo ?? "", expressCompany: p.expressCompany ?? "" })),
  };
}

Component({
  data: {
    state: "loading" as "loading" | "ready",
    id: "",
    order: null as OrderView | null,
    pending: false,
    error: "",
  },
  methods: {
    onLoad(query: Record<string, string | undefined>) {
      this.setData({ id: query.id ?? "" });
      void this.refresh();
    },
    onPullDownRefresh() {
      void this.refresh().then(() => wx.stopPullDownRefresh());
    },
    async refresh() {
      const id = this.data.id;
      if (!id) {
        this.setData({ state: "ready", error: "No order given." });
        return;
      }
      this.setData({ error: "" });
      try {
        const first = (await api.order(id, true)).order;
        this.setData({ state: "ready", order: view(first), pending: !isSettled(first) });
        if (isSettled(first)) return;
        const order = await confirmOrder(id, CONFIRM.afterSuccess);
        this.setData({ order: view(order), pending: !isSettled(order) });
      } catch (e) {
        this.setData({ state: "ready", error: `Could not load the order: ${errorText(e)}` });
      }
    },
    backToShop() {
      wx.reLaunch({ url: "/pages/products/index" });
    },
  },
});
