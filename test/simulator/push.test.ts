/** The simulator's message-push sealer and its `/__sim/push` control, delivering to the Worker. */
import { describe, expect, it } from "vitest";
import { decryptPush } from "../../src/wechat/push/cipher";
import { msgSignature } from "../../src/wechat/push/signature";
import * as keys from "../fixtures/keys";
import { createWorld } from "../support/world";

describe("simulator: message push", () => {
  it("seals like WeChat's safe mode: msg_signature over the Encrypt it sends, our AppID at the end, XML with CDATA", async () => {
    const w = createWorld();
    const sealed = await w.sim.sealPush({ Event: "debug_demo", debug_str: "hello world" }, { format: "xml" });
    const url = new URL(sealed.url);
    const encrypt = /<Encrypt><!\[CDATA\[([^\]]+)\]\]><\/Encrypt>/.exec(sealed.body)![1]!;
    expect(url.searchParams.get("encrypt_type")).toBe("aes");
    expect(url.searchParams.get("msg_signature")).toBe(await msgSignature(keys.PUSH_TOKEN, url.searchParams.get("timestamp")!, url.searchParams.get("nonce")!, encrypt));
    const full = await decryptPush(keys.PUSH_AES_KEY, encrypt);
    expect(full.appid).toBe(keys.APPID);
    expect(full.msg).toMatch(/^<xml><ToUserName><!\[CDATA\[gh_97417a04a28d\]\]><\/ToUserName>.*<CreateTime>\d+<\/CreateTime>.*<Event><!\[CDATA\[debug_demo\]\]><\/Event>/);
  });

  it("POST /__sim/push delivers to the Worker and reports its answer; GET /__sim/pushes lists deliveries", async () => {
    const w = createWorld();
    const res = await w.sim.fetch("http://sim/__sim/push", { method: "POST", body: JSON.stringify({ message: { Event: "debug_demo", CreateTime: 1_700_000_001 }, format: "xml" }) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { delivery: unknown }).delivery).toMatchObject({ event: "debug_demo", format: "xml", status: 200, body: "success", tamper: null });
    const tampered = await w.sim.fetch("http://sim/__sim/push", { method: "POST", body: JSON.stringify({ message: { Event: "debug_demo" }, tamper: "stale" }) });
    expect(((await tampered.json()) as { delivery: { status: number } }).delivery.status).toBe(401);
    const list = (await (await w.sim.fetch("http://sim/__sim/pushes")).json()) as { pushes: unknown[] };
    expect(list.pushes).toHaveLength(2);
  });

  it.each([
    [{ message: "x" }, /message must be an object/],
    [{ message: {}, format: "yaml" }, /format/],
    [{ message: {}, tamper: "everything" }, /tamper: one of/],
  ])("POST /__sim/push refuses %o", async (body, re) => {
    const w = createWorld();
    const res = await w.sim.fetch("http://sim/__sim/push", { method: "POST", body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(re);
  });

  it("refuses to push when not configured", async () => {
    const w = createWorld({ sim: { push: undefined } });
    await expect(w.sim.push({ Event: "debug_demo" })).rejects.toThrow(/not configured/);
  });
});
