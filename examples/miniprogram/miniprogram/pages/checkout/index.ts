// Checkout: choose the quantity, create the order (POST /v1/orders with an Idempotency-Key per
// checkout attempt), pay with wx.requestPayment, then ask the server what happened
// (GET /v1/orders/:id?sync=true) — never the client result alone. When the payment is not
// completed (the user closed the sheet, or it failed) the user can pay again (fresh parameters
// from POST /v1/orders/:id/pay) or cancel the order (POST /v1/orders/:id/cancel).
import { api, ApiError, newIdempotencyKey } from "../../api/client";
import { requestPayment } from "../../api/platform";
import type { Order, Product, RequestPayment } from "../../api/types";
import { errorText, STATUS_TEXT, yuan } from "../../utils/format";
import { confirmOrder, CONFIRM, isSettled } from "../../utils/payment";

type State = "loading" | "ready" | "submitting" | "paying" | "confirming" | "not_completed" | "failed" | "error" | "closed";
type ProductView = Product & { priceText: string };
type OrderView = Order & { statusText: string };

const orderView = (o: Order): OrderView => ({ ...o, statusText: STATUS_TEXT[o.status] });
const orderPage = (id: string) => `/pages/order/index?id=${encodeURIComponent(id)}`;

Component({
  data: {
    state: "loading" as State,
    product: null as ProductView | null,
    quantity: 1,
    totalText: "",
    editable: true,
    order: null as OrderView | null,
    message: "",
    /** Idempotency-Key of the current checkout attempt: a retry after a network error reuses it. */
    attemptKey: "",
  },
  methods: {
    onLoad(query: Record<string, string | undefined>) {
      void this.load(query.productId ?? "", Number(query.quantity ?? 1));
    },
    async load(productId: string, quantity: number) {
      try {
        const { products } = await api.products();
        const p = products.find((x) => x.id === productId);
        if (!p) {
          this.setData({ state: "error", message: "This product is no longer available." });
          return;
        }
        const q = Number.isInteger(quantity) && quantity >= 1 && quantity <= 99 ? quantity : 1;
        this.setData({ state: "ready", product: { ...p, priceText: yuan(p.price) }, quantity: q, totalText: yuan(p.price * q) });
      } catch (e) {
        this.setData({ state: "error", message: `Could not load the product: ${errorText(e)}` });
      }
    },
    setQuantity(q: number) {
      const p = this.data.product;
      if (!p || !this.data.editable) return;
      // Another body needs another key (the same key with another body is a 409).
      this.setData({ quantity: q, totalText: yuan(p.price * q), attemptKey: "" });
    },
    increase() {
      if (this.data.quantity < 99) this.setQuantity(this.data.quantity + 1);
    },
    decrease() {
      if (this.data.quantity > 1) this.setQuantity(this.data.quantity - 1);
    },

    /** "Pay" and "Pay again": create the order once, later ask for fresh payment parameters. */
    async pay() {
      const { product, quantity, order } = this.data;
      if (!product || ["submitting", "paying", "confirming"].includes(this.data.state)) return;
      this.setData({ state: "submitting", message: "", editable: false });
      let payment: RequestPayment;
      let current: Order;
      try {
        if (!order) {
          const key = this.data.attemptKey || newIdempotencyKey();
          this.setData({ attemptKey: key });
          const r = await api.createOrder([{ productId: product.id, quantity }], key);
          current = r.order;
          payment = r.payment;
        } else {
          const r = await api.payOrder(order.id);
          current = r.order;
          payment = r.payment;
        }
      } catch (e) {
        await this.payFailedBeforeSheet(e);
        return;
      }
      this.setData({ order: orderView(current) });
      await this.settle(current.id, payment);
    },

    /** wx.requestPayment, then the server decides. */
    async settle(orderId: string, payment: RequestPayment) {
      this.setData({ state: "paying" });
      const result = await requestPayment(payment);
      this.setData({ state: "confirming" });
      let order: Order;
      try {
        order = await confirmOrder(orderId, result.ok ? CONFIRM.afterSuccess : CONFIRM.afterFailure);
      } catch (e) {
        this.setData({ state: "error", message: `Could not check the payment: ${errorText(e)}. Pull to refresh on the order page.` });
        return;
      }
      this.setData({ order: orderView(order) });
      if (isSettled(order)) {
        if (order.status === "CLOSED") {
          this.setData({ state: "closed", message: "This order was closed." });
          return;
        }
        wx.redirectTo({ url: orderPage(order.id) });
        return;
      }
      if (result.ok) {
        // WeChat said ok but the server has not seen the payment yet: the order page keeps asking.
        wx.redirectTo({ url: orderPage(order.id) });
        return;
      }
      this.setData(
        result.cancelled
          ? { state: "not_completed", message: "Payment not completed. You can pay again or cancel the order." }
          : { state: "failed", message: `Payment failed (${result.errMsg}). You can pay again or cancel the order.` },
      );
    },

    async payFailedBeforeSheet(e: unknown) {
      const order = this.data.order;
      if (e instanceof ApiError && e.code === "order_not_payable" && order) {
        // Paid or closed meanwhile (e.g. on another device): show what the server says.
        const fresh = (await api.order(order.id, true).catch(() => null))?.order;
        if (fresh && fresh.status !== "CLOSED") {
          wx.redirectTo({ url: orderPage(fresh.id) });
          return;
        }
        this.setData({ state: "closed", order: fresh ? orderView(fresh) : order, message: "This order can no longer be paid." });
        return;
      }
      // Network errors and 5xx: "Try again" repeats the same attempt (same Idempotency-Key), so
      // at most one order is created. The quantity stays locked for that attempt.
      const retriable = e instanceof ApiError && (e.status === 0 || e.status >= 500);
      this.setData({
        state: "error",
        editable: !order && !retriable,
        attemptKey: retriable ? this.data.attemptKey : "",
        message: `Could not start the payment: ${errorText(e)}`,
      });
    },

    async cancel() {
      const order = this.data.order;
      if (!order) return;
      this.setData({ state: "submitting", message: "" });
      try {
        const { order: closed } = await api.cancelOrder(order.id);
        this.setData({ state: "closed", order: orderView(closed), message: "Order cancelled. You have not been charged." });
        wx.showToast({ title: "Order cancelled", icon: "none" });
      } catch (e) {
        if (e instanceof ApiError && e.code === "order_not_payable") {
          // Too late: it was paid. Show the order.
          wx.redirectTo({ url: orderPage(order.id) });
          return;
        }
        this.setData({ state: "not_completed", message: `Could not cancel: ${errorText(e)}` });
      }
    },
    backToShop() {
      wx.reLaunch({ url: "/pages/products/index" });
    },
  },
});
