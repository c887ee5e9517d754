/**
 * @module wechat/push/errors — the two ways a message push is refused (WECHATPAY.md O.4, SPEC §9):
 * not proven to come from WeChat for this mini program (401), or proven but unreadable (400).
 * Messages tell the operator what to check; they never contain the Token, a key, a signature or
 * a decrypted body.
 */

export class PushError extends Error {
  constructor(
    /** Stable machine code, for logs and tests. */
    readonly code: string,
    /** 401: authenticity (signatures, timestamp, plaintext, appid); 400: a verified push we cannot read. */
    readonly status: 400 | 401,
    message: string,
    opts: { cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "PushError";
  }
}

/** Not proven to come from WeChat for this mini program: answered 401, nothing stored. */
export class PushUnverified extends PushError {
  constructor(code: string, message: string) {
    super(code, 401, message);
    this.name = "PushUnverified";
  }
}

/** Verified (or about to be) but not readable: not base64, bad padding, bad layout, not JSON/XML → 400. */
export class PushMalformed extends PushError {
  constructor(code: string, message: string, opts: { cause?: unknown } = {}) {
    super(code, 400, message, opts);
    this.name = "PushMalformed";
  }
}
