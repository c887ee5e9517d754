/**
 * @module wechat/pay/notification — a WeChat Pay notification, from raw request to decrypted
 * resource (WECHATPAY.md G.2): verify the signature over the RAW body first (never a re-serialised
 * object, L.1), then parse, check `resource.algorithm`, decrypt (G.3), parse the plaintext.
 *
 * Failures are typed: authentication failures carry `notifyStatus` 401, malformed input 400.
 * The business checks (appid, mchid, amount, trade_state) belong to the domain (G.2 step 5).
 */
import type { Clock } from "../../lib/clock";
import { AEAD_ALGORITHM, type AeadOptions, decryptAead } from "./aead";
import { BadAlgorithm, MalformedNotification } from "./errors";
import type { VerifiedNotification } from "./port";
import { type KeyResolver, verifySignedMessage } from "./verifier";

export interface NotificationInput {
  headers: Headers;
  /** The request body exactly as received (`await c.req.text()`), not parsed and re-stringified. */
  rawBody: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const optString = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

export async function verifyNotification(
  input: NotificationInput,
  deps: { keys: KeyResolver; clock: Clock; apiv3Key: string; aead?: AeadOptions },
): Promise<VerifiedNotification> {
  const { serial } = await verifySignedMessage({ headers: input.headers, body: input.rawBody, clock: deps.clock, keys: deps.keys, origin: "notification" });

  let envelope: unknown;
  try {
    envelope = JSON.parse(input.rawBody);
  } catch {
    throw new MalformedNotification("notification body is not JSON");
  }
  if (!isObject(envelope)) throw new MalformedNotification("notification body is not a JSON object");
  if (typeof envelope.id !== "string" || envelope.id === "") throw new MalformedNotification("notification has no id");
  if (typeof envelope.event_type !== "string" || envelope.event_type === "") throw new MalformedNotification("notification has no event_type");
  const resource = envelope.resource;
  if (!isObject(resource)) throw new MalformedNotification("notification has no resource object");
  if (resource.algorithm !== AEAD_ALGORITHM) throw new BadAlgorithm(String(resource.algorithm));
  if (typeof resource.ciphertext !== "string" || typeof resource.nonce !== "string") {
    throw new MalformedNotification("notification resource lacks ciphertext or nonce");
  }
  if (resource.associated_data !== undefined && typeof resource.associated_data !== "string") {
    throw new MalformedNotification("notification resource associated_data is not a string");
  }

  const plaintext = await decryptAead(
    deps.apiv3Key,
    { nonce: resource.nonce, associatedData: optString(resource.associated_data) ?? "", ciphertext: resource.ciphertext },
    deps.aead,
  );
  let decrypted: unknown;
  try {
    decrypted = JSON.parse(plaintext);
  } catch {
    throw new MalformedNotification("decrypted notification resource is not JSON");
  }
  if (!isObject(decrypted)) throw new MalformedNotification("decrypted notification resource is not a JSON object");

  const out: VerifiedNotification = { id: envelope.id, event_type: envelope.event_type, serial, resource: decrypted };
  const createTime = optString(envelope.create_time);
  const resourceType = optString(envelope.resource_type);
  const summary = optString(envelope.summary);
  const originalType = optString(resource.original_type);
  if (createTime !== undefined) out.create_time = createTime;
  if (resourceType !== undefined) out.resource_type = resourceType;
  if (summary !== undefined) out.summary = summary;
  if (originalType !== undefined) out.original_type = originalType;
  return out;
}
