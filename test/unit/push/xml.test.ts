/** The strict reader for WeChat's push XML: what it reads, and everything it refuses. */
import { describe, expect, it } from "vitest";
import { readXml } from "../../../src/wechat/push/xml";

describe("readXml", () => {
  it("reads WeChat's flat CDATA format, plain text leaves and whitespace between elements", () => {
    const x = `<?xml version="1.0" encoding="UTF-8"?>\n<xml>\n  <ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName>\n  <CreateTime>1714112445</CreateTime>\n  <Encrypt><![CDATA[+qdx/1==]]></Encrypt>\n  <Empty/>\n</xml>\n`;
    expect(readXml(x)).toEqual({ ToUserName: "gh_97417a04a28d", CreateTime: "1714112445", Encrypt: "+qdx/1==", Empty: "" });
  });

  it("keeps CDATA verbatim (markup inside is text), decodes the five entities and character references", () => {
    expect(readXml("<xml><A><![CDATA[<b>&amp;</b>]]></A><B>a &lt; b &amp;&#x4E2D;&#25991;</B></xml>")).toEqual({ A: "<b>&amp;</b>", B: "a < b &中文" });
  });

  it("reads nested elements as objects and repeated names as arrays", () => {
    expect(readXml("<xml><List><Item><Id>1</Id></Item><Item><Id>2</Id></Item></List><N>3</N></xml>")).toEqual({
      List: { Item: [{ Id: "1" }, { Id: "2" }] },
      N: "3",
    });
  });

  it.each([
    ["another root", "<root><A>1</A></root>"],
    ["attributes", '<xml><A x="1">1</A></xml>'],
    ["a DOCTYPE (no entity expansion, ever)", '<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><A>&e;</A></xml>'],
    ["an inner DOCTYPE/comment", "<xml><!-- c --><A>1</A></xml>"],
    ["an unknown entity", "<xml><A>&e;</A></xml>"],
    ["a bare ampersand", "<xml><A>a & b</A></xml>"],
    ["an unclosed element", "<xml><A>1</xml>"],
    ["mismatched tags", "<xml><A>1</B></xml>"],
    ["unterminated CDATA", "<xml><A><![CDATA[1</A></xml>"],
    ["mixed text and elements", "<xml><A>t<B>1</B></A></xml>"],
    ["content after the root", "<xml><A>1</A></xml><xml/>"],
    ["a processing instruction inside", "<xml><?php x ?><A>1</A></xml>"],
    ["nesting deeper than 8", `<xml>${"<A>".repeat(12)}1${"</A>".repeat(12)}</xml>`],
    ["text in the root", "<xml>hello</xml>"],
    ["not XML", "hello"],
  ])("refuses %s", (_label, text) => {
    expect(() => readXml(text)).toThrow(/XML/);
  });
});
