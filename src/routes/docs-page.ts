/**
 * @module routes/docs-page — a dependency-free HTML page that renders /openapi.json. Its one
 * script and one style sheet carry the response's CSP nonce (routes/security.ts): the page has
 * no inline event handlers or style attributes, so the strict policy allows exactly these two.
 */
export const docsHtml = (nonce: string): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>wxpay-edge API</title><link rel="icon" href="data:,">
<style nonce="${nonce}">
body{font:15px/1.5 system-ui,-apple-system,"PingFang SC",sans-serif;margin:0;color:#1d2129;background:#f7f8fa}
header{background:#07c160;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}
main{max-width:1000px;margin:0 auto;padding:16px 24px}
details{background:#fff;border:1px solid #e5e6eb;border-radius:8px;margin:8px 0}
summary{cursor:pointer;padding:10px 14px;display:flex;gap:12px;align-items:center}
.m{font:600 12px monospace;padding:2px 8px;border-radius:4px;color:#fff;min-width:48px;text-align:center}
.get{background:#165dff}.post{background:#07c160}.put{background:#ff7d00}.delete{background:#f53f3f}
.p{font-family:monospace}.s{color:#86909c}.body{padding:0 14px 12px}
pre{background:#f2f3f5;padding:10px;border-radius:6px;overflow:auto;font-size:12px}
table{border-collapse:collapse}td{padding:2px 10px 2px 0;vertical-align:top}.tag{margin-top:24px;font-weight:600}
</style></head><body><header><h1>wxpay-edge API</h1><div id="d"></div></header><main id="app">Loading /openapi.json…</main>
<script nonce="${nonce}">
const esc=s=>String(s??"").replace(/[&<>"]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
fetch("openapi.json").then(r=>r.json()).then(doc=>{
  document.getElementById("d").textContent=doc.info.description||"";
  const schemas=(doc.components&&doc.components.schemas)||{};
  const deref=s=>s&&s.$ref?schemas[s.$ref.split("/").pop()]:s;
  const byTag={};
  for(const [path,ops] of Object.entries(doc.paths))for(const [m,op] of Object.entries(ops)){
    const t=(op.tags&&op.tags[0])||"other";(byTag[t]=byTag[t]||[]).push([m,path,op]);}
  let html="";
  for(const [tag,ops] of Object.entries(byTag)){
    html+='<div class="tag">'+esc(tag)+"</div>";
    for(const [m,path,op] of ops){
      const req=op.requestBody&&op.requestBody.content&&op.requestBody.content["application/json"];
      const params=(op.parameters||[]).map(p=>"<tr><td class=p>"+esc(p.in)+" "+esc(p.name)+"</td><td>"+esc(p.required?"required":"optional")+"</td></tr>").join("");
      const res=Object.entries(op.responses||{}).map(([s,r])=>{const c=r.content&&r.content["application/json"];
        return "<tr><td class=p>"+esc(s)+"</td><td>"+esc(r.description)+"</td></tr>"+(c&&s<300?"<tr><td></td><td><pre>"+esc(JSON.stringify(deref(c.schema),null,1))+"</pre></td></tr>":"");}).join("");
      html+='<details><summary><span class="m '+m+'">'+m.toUpperCase()+'</span><span class=p>'+esc(path)+'</span><span class=s>'+esc(op.summary)+"</span></summary><div class=body>"
        +(op.security?"<p>Requires <code>Authorization: Bearer …</code></p>":"")
        +(params?"<table>"+params+"</table>":"")
        +(req?"<p>Body</p><pre>"+esc(JSON.stringify(deref(req.schema),null,1))+"</pre>":"")
        +"<p>Responses</p><table>"+res+"</table></div></details>";
    }
  }
  document.getElementById("app").innerHTML=html;
}).catch(e=>{document.getElementById("app").textContent="Could not load /openapi.json: "+e;});
</script></body></html>`;
