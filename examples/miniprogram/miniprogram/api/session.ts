/** The session token, kept with wx.setStorageSync so it survives restarts of the mini program. */
import type { LoginResponse } from "./types";

const STORAGE_KEY = "wxpay-edge.session";
/** Log in again this long before the token expires rather than have a call fail. */
const EXPIRY_MARGIN_MS = 60_000;

export interface StoredSession {
  token: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  user: LoginResponse["user"];
}

export function readSession(): StoredSession | null {
  let s: unknown;
  try {
    s = wx.getStorageSync(STORAGE_KEY);
  } catch {
    return null;
  }
  if (!s || typeof s !== "object") return null;
  const session = s as StoredSession;
  if (typeof session.token !== "string" || typeof session.expiresAt !== "number") return null;
  return session.expiresAt - EXPIRY_MARGIN_MS > Date.now() ? session : null;
}

/** The stored token even when expired: a login sends it so a blocked user's sessions can be ended. */
export function readStoredToken(): string | null {
  try {
    const s = wx.getStorageSync(STORAGE_KEY) as Partial<StoredSession> | "";
    return s && typeof s.token === "string" ? s.token : null;
  } catch {
    return null;
  }
}

export function saveSession(login: LoginResponse): StoredSession {
  const session: StoredSession = { token: login.token, expiresAt: Date.now() + login.expiresIn * 1000, user: login.user };
  wx.setStorageSync(STORAGE_KEY, session);
  return session;
}

export function clearSession(): void {
  try {
    wx.removeStorageSync(STORAGE_KEY);
  } catch {
    // nothing stored
  }
}
