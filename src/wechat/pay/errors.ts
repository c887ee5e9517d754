/**
 * @module wechat/pay/errors — one class per WeChat Pay failure, each with a stable `code`, a
 * `retryable` verdict and, for notification handling, the HTTP status WeChat should be answered.
 *
 * `notifyStatus` is the one fact the notify route needs (WECHATPAY.md G.4: any 4xx/5xx makes
 * WeChat retry): 401 for authentication failures (headers, skew, serial, signature, signature
 * type), 400 for malformed input (not JSON, wrong algorithm, decrypt failure), 500 otherwise.
 * Messages tell the operator the next step; they never contain keys, signatures or bodies.
 */

export type NotifyStatus = 400 | 401 | 500;

export class WechatPayError extends Error {
  /** Stable machine code. For `ApiError` it is WeChat's own code (e.g. `ORDER_CLOSED`). */
  readonly code: string;
  /** Whether repeating the same call later could succeed. */
  readonly retryable: boolean;
  /** How the notify route should answer WeChat when this error rejects a notification. */
  readonly notifyStatus: NotifyStatus;

  constructor(code: string, message: string, opts: { retryable?: boolean; notifyStatus?: NotifyStatus; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "WechatPayError";
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.notifyStatus = opts.notifyStatus ?? 500;
  }

  /** True for failures that mean "not proven to come from WeChat" (→ 401). */
  get isAuthFailure(): boolean {
    return this.notifyStatus === 401;
  }
}

/** A Wechatpay-* header needed for verification is absent or empty (C.1). */
export class MissingHeader extends WechatPayError {
  constructor(readonly header: string) {
    super("missing_header", `${header} header is missing: the message cannot be verified`, { notifyStatus: 401 });
    this.name = "MissingHeader";
  }
}

/** |now − Wechatpay-Timestamp| > 300 s, or the timestamp is not decimal seconds (C.3). */
export class TimestampSkew extends WechatPayError {
  constructor(message: string) {
    super("timestamp_skew", message, { notifyStatus: 401 });
    this.name = "TimestampSkew";
  }
}

/** Wechatpay-Signature-Type is present and is not WECHATPAY2-SHA256-RSA2048 (C.1). */
export class UnsupportedSignatureType extends WechatPayError {
  constructor(readonly signatureType: string) {
    super("unsupported_signature_type", "Wechatpay-Signature-Type is not WECHATPAY2-SHA256-RSA2048", { notifyStatus: 401 });
    this.name = "UnsupportedSignatureType";
  }
}

/** No usable key for Wechatpay-Serial, even after one certificate refresh (C.5). */
export class UnknownSerial extends WechatPayError {
  constructor(readonly serial: string, message?: string, opts: { cause?: unknown } = {}) {
    super(
      "unknown_serial",
      message ??
        `no verification key for Wechatpay-Serial ${serial}: check WXPAY_PUBLIC_KEY_ID / WXPAY_PUBLIC_KEY, or that /v3/certificates lists it`,
      // A later refresh (new certificate published, rate limit passed) may find it.
      { retryable: true, notifyStatus: 401, ...opts },
    );
    this.name = "UnknownSerial";
  }
}

/** The RSA signature did not verify, or is not strict base64 (e.g. the WECHATPAY/SIGNTEST/ probe, C.4). */
export class BadSignature extends WechatPayError {
  constructor(message = "Wechatpay-Signature does not verify over the raw body (was the body re-serialised?)") {
    super("bad_signature", message, { notifyStatus: 401 });
    this.name = "BadSignature";
  }
}

/** resource.algorithm is not AEAD_AES_256_GCM (G.2). */
export class BadAlgorithm extends WechatPayError {
  constructor(readonly algorithm: string) {
    super("bad_algorithm", "resource.algorithm is not AEAD_AES_256_GCM", { notifyStatus: 400 });
    this.name = "BadAlgorithm";
  }
}

/** AES-GCM tag check failed (almost always a wrong APIv3 key, L.4) or the plaintext is not UTF-8. */
export class DecryptError extends WechatPayError {
  constructor(message = "AEAD_AES_256_GCM decryption failed: check WXPAY_APIV3_KEY (the APIv3 key, not the APIv2 key)", opts: { cause?: unknown } = {}) {
    super("decrypt_error", message, { notifyStatus: 400, ...opts });
    this.name = "DecryptError";
  }
}

/** A key cannot be used: APIv3 key not 32 bytes, or a PEM that WebCrypto will not import. */
export class InvalidKey extends WechatPayError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super("invalid_key", message, { notifyStatus: 500, ...opts });
    this.name = "InvalidKey";
  }
}

/** The notification body (or its decrypted resource) is not the JSON shape of G.1. */
export class MalformedNotification extends WechatPayError {
  constructor(message: string) {
    super("malformed_notification", message, { notifyStatus: 400 });
    this.name = "MalformedNotification";
  }
}

/**
 * WeChat answered non-2xx with `{code, message, detail}` (D.4): a definite answer to *this*
 * attempt. `afterUnknownAttempt`: an earlier attempt of the same call (the transport's own
 * retry) had no known outcome and may have taken effect, so a 4xx here does not prove the call
 * did nothing (e.g. a refund applied, its answer lost, the repeat refused).
 */
export class ApiError extends WechatPayError {
  constructor(
    readonly status: number,
    code: string,
    readonly wechatMessage: string,
    readonly detail: unknown,
    readonly requestId: string | null,
    readonly afterUnknownAttempt = false,
  ) {
    super(code, `WeChat Pay answered HTTP ${status} ${code}: ${wechatMessage}`, {
      retryable: status === 429 || status >= 500 || code === "SYSTEM_ERROR" || code === "FREQUENCY_LIMITED",
    });
    this.name = "ApiError";
  }
}

/**
 * The outcome is unknown: network failure, timeout, 5xx/429 after retries, or a 2xx that could
 * not be verified. Never treat it as failed: query, or wait for the notification (J.6).
 */
export class IndeterminateError extends WechatPayError {
  /** The last HTTP status seen, or null for network failures and timeouts. */
  readonly status: number | null;

  constructor(message: string, opts: { cause?: unknown; status?: number } = {}) {
    super("indeterminate", message, { retryable: true, notifyStatus: 500, cause: opts.cause });
    this.name = "IndeterminateError";
    this.status = opts.status ?? null;
  }
}
