/**
 * @module wechat/push/xml — a small, strict reader for the XML WeChat pushes
 * (`<xml><ToUserName><![CDATA[gh_…]]></ToUserName><CreateTime>1714112445</CreateTime>…</xml>`,
 * WECHATPAY.md O.3). Elements, CDATA and text only: no attributes, comments, processing
 * instructions (beyond a leading `<?xml …?>`), DOCTYPE or custom entities — so no entity
 * expansion and no external fetches, by construction. Anything else is refused, never guessed.
 *
 * Leaf elements become strings (numbers stay text: the caller converts), elements with children
 * become objects, a repeated name becomes an array.
 */

export type XmlValue = string | XmlObject | XmlValue[];
export interface XmlObject {
  [name: string]: XmlValue;
}

export class XmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "XmlError";
  }
}

const NAME = /[A-Za-z_][A-Za-z0-9_.-]*/y;
const MAX_DEPTH = 8;
const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

class Reader {
  i = 0;
  constructor(readonly s: string) {}

  fail(what: string): never {
    throw new XmlError(`XML: ${what} at offset ${this.i}`);
  }
  skipSpace(): void {
    while (this.i < this.s.length && " \t\r\n".includes(this.s[this.i]!)) this.i++;
  }
  startsWith(t: string): boolean {
    return this.s.startsWith(t, this.i);
  }
  name(): string {
    NAME.lastIndex = this.i;
    const m = NAME.exec(this.s);
    if (!m) this.fail("expected an element name");
    this.i += m[0].length;
    return m[0];
  }
  expect(t: string): void {
    if (!this.startsWith(t)) this.fail(`expected "${t}"`);
    this.i += t.length;
  }

  /** `<name>…</name>` or `<name/>`; the reader is on `<`. */
  element(depth: number): [string, XmlValue] {
    if (depth > MAX_DEPTH) this.fail("nesting too deep");
    this.expect("<");
    const name = this.name();
    if (this.startsWith("/>")) {
      this.i += 2;
      return [name, ""];
    }
    if (this.s[this.i] !== ">") this.fail(`attributes are not accepted (element <${name}>)`);
    this.i++;
    let text = "";
    let sawText = false;
    let children: XmlObject | null = null;
    for (;;) {
      if (this.i >= this.s.length) this.fail(`<${name}> is not closed`);
      if (this.startsWith("</")) {
        this.i += 2;
        if (this.name() !== name) this.fail(`mismatched closing tag for <${name}>`);
        this.skipSpace();
        this.expect(">");
        break;
      }
      if (this.startsWith("<![CDATA[")) {
        const end = this.s.indexOf("]]>", this.i + 9);
        if (end < 0) this.fail("unterminated CDATA section");
        text += this.s.slice(this.i + 9, end);
        sawText = true;
        this.i = end + 3;
        continue;
      }
      if (this.startsWith("<!") || this.startsWith("<?")) this.fail("comments, DOCTYPE and processing instructions are not accepted");
      if (this.s[this.i] === "<") {
        const [k, v] = this.element(depth + 1);
        children ??= Object.create(null) as XmlObject;
        const prev = children[k];
        children[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
        continue;
      }
      const next = this.s.indexOf("<", this.i);
      const raw = this.s.slice(this.i, next < 0 ? this.s.length : next);
      this.i += raw.length;
      if (raw.trim() !== "") sawText = true;
      text += decodeText(raw, this);
    }
    if (children) {
      if (sawText) this.fail(`<${name}> mixes text and elements`);
      return [name, { ...children }];
    }
    return [name, text];
  }
}

function decodeText(raw: string, r: Reader): string {
  return raw.replace(/&([^;]*);?/g, (whole, ent: string) => {
    if (!whole.endsWith(";")) r.fail("a bare & in text");
    if (ENTITIES[ent] !== undefined) return ENTITIES[ent]!;
    const num = /^#(?:x([0-9A-Fa-f]{1,6})|([0-9]{1,7}))$/.exec(ent);
    if (num) {
      const cp = num[1] !== undefined ? parseInt(num[1], 16) : Number(num[2]);
      if (cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) return String.fromCodePoint(cp);
    }
    return r.fail(`unknown entity &${ent};`);
  });
}

/** The children of the root `<xml>` element, as an object. Throws `XmlError` on anything else. */
export function readXml(text: string): XmlObject {
  const r = new Reader(text.startsWith("\ufeff") ? text.slice(1) : text);
  r.skipSpace();
  if (r.startsWith("<?xml")) {
    const end = r.s.indexOf("?>", r.i);
    if (end < 0) r.fail("unterminated XML declaration");
    r.i = end + 2;
    r.skipSpace();
  }
  if (!r.startsWith("<xml>") && !r.startsWith("<xml/>")) r.fail("the root element must be <xml>");
  const [, root] = r.element(0);
  r.skipSpace();
  if (r.i !== r.s.length) r.fail("content after the root element");
  if (typeof root === "string") {
    if (root.trim() !== "") r.fail("the root element holds text, not elements");
    return {};
  }
  return root as XmlObject;
}
