// The app: log in once at launch so the first page finds a session. Everything else lives in the
// pages (pages/*) and the API client (api/*).
import { ensureSession } from "./api/client";

App<WechatMiniprogram.IAnyObject>({
  onLaunch() {
    ensureSession().catch((err: unknown) => {
      // The products page logs in again (and shows the error) when it needs to.
      console.warn("login at launch failed", err);
    });
  },
});
