// What the bench needs to act as WeChat Pay towards the Worker: TRANSACTION.SUCCESS notifications
// signed with the simulator's public key (the generated config) and encrypted with the APIv3 key,
// exactly as WECHATPAY.md G describes (the simulator's own notifier builds the same envelope).
import { createCipheriv, createPrivateKey, randomBytes, sign } from "node:crypto";

const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const alnum = (n) => [...randomBytes(n)].map((b) => ALNUM[b % 62]).join("");

/** RFC 3339 with +08:00, seconds precision, like WeChat's success_time / create_time. */
export function cst(ms) {
  return `${new Date(Math.floor(ms / 1000) * 1000 + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
}

function aesGcm(keyText, nonce, aad, plaintext) {
  const key = Buffer.from(keyText, "utf8");
  if (key.length !== 32) throw new Error("APIv3 key must be 32 bytes");
  const c = createCipheriv("aes-256-gcm", key, Buffer.from(nonce, "utf8"));
  c.setAAD(Buffer.from(aad, "utf8"));
  const ct = Buffer.concat([c.update(plaintext, "utf8"), c.final(), c.getAuthTag()]);
  return ct.toString("base64");
}

/**
 * N notifications for N orders: [{ headers, body, id, outTradeNo, transactionId }]. Signed now:
 * the Worker accepts a timestamp within 300 s, so build them right before they are sent.
 */
export function buildNotifications(sim, orders) {
  const key = createPrivateKey(sim.publicKey.privateKeyPem);
  const now = Date.now();
  return orders.map((o, i) => {
    const transactionId = `4200${String(now).slice(-10)}${String(i).padStart(8, "0")}${alnum(6).replace(/\D/g, "0")}`.slice(0, 28);
    const resource = {
      appid: sim.appid,
      mchid: sim.mchid,
      out_trade_no: o.outTradeNo,
      transaction_id: transactionId,
      trade_type: "JSAPI",
      trade_state: "SUCCESS",
      trade_state_desc: "支付成功",
      bank_type: "OTHERS",
      attach: "",
      success_time: cst(now),
      payer: { openid: o.openid },
      amount: { total: o.amount, payer_total: o.amount, currency: "CNY", payer_currency: "CNY" },
    };
    const nonce = alnum(12);
    const id = `bench-${now.toString(36)}-${i}-${alnum(8)}`;
    const body = JSON.stringify({
      id,
      create_time: cst(now),
      resource_type: "encrypt-resource",
      event_type: "TRANSACTION.SUCCESS",
      summary: "支付成功",
      resource: {
        original_type: "transaction",
        algorithm: "AEAD_AES_256_GCM",
        ciphertext: aesGcm(sim.apiv3Key, nonce, "transaction", JSON.stringify(resource)),
        associated_data: "transaction",
        nonce,
      },
    });
    const ts = String(Math.floor(now / 1000));
    const sigNonce = alnum(32);
    const signature = sign("sha256", Buffer.from(`${ts}\n${sigNonce}\n${body}\n`, "utf8"), key).toString("base64");
    return {
      id,
      outTradeNo: o.outTradeNo,
      transactionId,
      body,
      headers: {
        "content-type": "application/json",
        "wechatpay-timestamp": ts,
        "wechatpay-nonce": sigNonce,
        "wechatpay-signature": signature,
        "wechatpay-serial": sim.publicKey.id,
        "wechatpay-signature-type": "WECHATPAY2-SHA256-RSA2048",
      },
    };
  });
}

/** Node's two-signature floor: node:crypto SHA256withRSA ×2 with the merchant key, µs per pair. */
export function nodeTwoSignatureFloor(privateKeyPem, iterations = 300) {
  const key = createPrivateKey(privateKeyPem);
  const msg = Buffer.from(`POST\n/v3/pay/transactions/jsapi\n1700000000\n${"n".repeat(32)}\n${"{}".padEnd(400, " ")}\n`);
  for (let i = 0; i < 20; i++) sign("sha256", msg, key);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    sign("sha256", msg, key);
    sign("sha256", msg, key);
  }
  const us = Number(process.hrtime.bigint() - t0) / 1000 / iterations;
  return { iterations, twoSignaturesUs: us, rsaSignUs: us / 2 };
}

/**
 * Registers orders at the simulator as a merchant would (a signed JSAPI prepay per order), then
 * pays some of them as the user would (a signed wx.requestPayment), with a notify_url nobody
 * listens on: payments whose notifications are lost, which is what reconciliation is for.
 */
export async function prepayAndPayAtSimulator({ simPort, sim, vars, orders, payEvery = 2, timeExpire }) {
  const key = createPrivateKey(vars.WXPAY_MCH_PRIVATE_KEY);
  const base = `http://127.0.0.1:${simPort}`;
  let paid = 0;
  for (const [i, o] of orders.entries()) {
    const body = JSON.stringify({
      appid: sim.appid,
      mchid: sim.mchid,
      description: "Pour-over coffee",
      out_trade_no: o.outTradeNo,
      time_expire: timeExpire,
      notify_url: "http://127.0.0.1:9/v1/pay/notify",
      amount: { total: o.amount, currency: "CNY" },
      payer: { openid: o.openid },
    });
    const ts = String(Math.floor(Date.now() / 1000));
    const nonce = alnum(32);
    const signature = sign("sha256", Buffer.from(`POST\n/v3/pay/transactions/jsapi\n${ts}\n${nonce}\n${body}\n`), key).toString("base64");
    const auth = `WECHATPAY2-SHA256-RSA2048 mchid="${sim.mchid}",nonce_str="${nonce}",timestamp="${ts}",serial_no="${vars.WXPAY_MCH_SERIAL}",signature="${signature}"`;
    const res = await fetch(`${base}/v3/pay/transactions/jsapi`, {
      method: "POST",
      headers: { authorization: auth, "content-type": "application/json", accept: "application/json" },
      body,
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`simulator prepay ${o.outTradeNo}: ${res.status} ${JSON.stringify(json)}`);
    if (i % payEvery !== 0) continue;
    const pkg = `prepay_id=${json.prepay_id}`;
    const payNonce = alnum(32);
    const paySign = sign("sha256", Buffer.from(`${sim.appid}\n${ts}\n${payNonce}\n${pkg}\n`), key).toString("base64");
    const pay = await fetch(`${base}/__sim/pay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ payment: { timeStamp: ts, nonceStr: payNonce, package: pkg, signType: "RSA", paySign }, openid: o.openid }),
    });
    if (!pay.ok) throw new Error(`simulator pay ${o.outTradeNo}: ${pay.status} ${await pay.text()}`);
    paid++;
  }
  return { prepaid: orders.length, paid };
}
