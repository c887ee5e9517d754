// Product list: logs in (wx.login → POST /v1/auth/login, token kept in storage), shows
// GET /v1/products, and opens the checkout for the product tapped.
import { api, ensureSession } from "../../api/client";
import type { Product } from "../../api/types";
import { errorText, yuan } from "../../utils/format";

type ProductView = Product & { priceText: string };

Component({
  data: {
    state: "loading" as "loading" | "ready" | "error",
    products: [] as ProductView[],
    openid: "",
    error: "",
  },
  methods: {
    onLoad() {
      void this.load();
    },
    onPullDownRefresh() {
      void this.load().then(() => wx.stopPullDownRefresh());
    },
    async load() {
      this.setData({ state: "loading", error: "" });
      try {
        const session = await ensureSession();
        const { products } = await api.products();
        this.setData({
          state: "ready",
          openid: session.user.openid,
          products: products.map((p) => ({ ...p, priceText: yuan(p.price) })),
        });
      } catch (e) {
        this.setData({ state: "error", error: `Could not load the shop: ${errorText(e)}` });
      }
    },
    reload() {
      void this.load();
    },
    buy(e: WechatMiniprogram.BaseEvent) {
      const id = String(e.currentTarget.dataset.id ?? "");
      if (!id) return;
      wx.navigateTo({ url: `/pages/checkout/index?productId=${encodeURIComponent(id)}` });
    },
  },
});
