/**
 * @module test/simulator/der — just enough DER to read an X.509 certificate's serial and validity,
 * which `/v3/certificates` reports as `serial_no`, `effective_time`, `expire_time` (C.5).
 * Independent of the Worker's X.509 library on purpose.
 */
import { pemToDer, toHex } from "../../src/lib/encoding";

interface Tlv {
  tag: number;
  start: number; // content start
  end: number; // content end
}

function read(b: Uint8Array, at: number): Tlv {
  const tag = b[at]!;
  let len = b[at + 1]!;
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p++]!;
  }
  if (p + len > b.length) throw new Error("der: truncated");
  return { tag, start: p, end: p + len };
}

function children(b: Uint8Array, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = t.start; p < t.end; ) {
    const c = read(b, p);
    out.push(c);
    p = c.end;
  }
  return out;
}

function time(b: Uint8Array, t: Tlv): number {
  const s = new TextDecoder().decode(b.subarray(t.start, t.end));
  // UTCTime YYMMDDHHMMSSZ (0x17) or GeneralizedTime YYYYMMDDHHMMSSZ (0x18).
  const full = t.tag === 0x17 ? (Number(s.slice(0, 2)) >= 50 ? "19" : "20") + s : s;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(full);
  if (!m) throw new Error(`der: unsupported time ${s}`);
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

export interface CertificateInfo {
  /** Upper-case hex, without the DER sign byte. */
  serial: string;
  notBefore: number;
  notAfter: number;
}

export function certificateInfo(pem: string): CertificateInfo {
  const der = pemToDer(pem, "CERTIFICATE");
  if (!der) throw new Error("simulator: certificate must be a PEM CERTIFICATE");
  const cert = read(der, 0);
  const tbs = children(der, cert)[0]!;
  const f = children(der, tbs);
  let i = f[0]!.tag === 0xa0 ? 1 : 0; // optional [0] version
  const serialTlv = f[i++]!;
  let serialBytes = der.subarray(serialTlv.start, serialTlv.end);
  if (serialBytes.length > 1 && serialBytes[0] === 0) serialBytes = serialBytes.subarray(1);
  i += 2; // signature algorithm, issuer
  const [nb, na] = children(der, f[i]!);
  return { serial: toHex(serialBytes).toUpperCase(), notBefore: time(der, nb!), notAfter: time(der, na!) };
}
