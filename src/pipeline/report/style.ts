/** The report page's stylesheet, inlined so the page fetches nothing. */
export const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans KR","Apple SD Gothic Neo",sans-serif;margin:24px auto;max-width:1200px;color:#1d1d1d;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin-top:22px}h4{font-size:14px;margin:16px 0 4px}
nav{margin:8px 0 16px;color:#555}nav a{margin-right:12px;color:#2f6db5;text-decoration:none}
table{border-collapse:collapse;margin:8px 0 16px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f5f5f5;font-weight:600}
table.kv th{width:170px}td.n{text-align:right;white-space:nowrap}td.best{background:#e8f3e8;font-weight:600}
tr.sub th{font-weight:400;padding-left:22px}tr.total td{font-weight:600;background:#fafafa}
.muted{color:#777;font-weight:400}.small{font-size:12px;margin-top:4px}.err{color:#b00020;font-size:12px;white-space:pre-wrap}
.badge{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;font-weight:600;background:#eee;color:#444}
.badge.done{background:#e3f2e6;color:#1d6b30}.badge.skipped{background:#e8eef8;color:#2f5a9a}.badge.failed,.badge.fail{background:#fbe4e4;color:#a11d1d}
.badge.running{background:#fff3d6;color:#8a5a00}.badge.pending{background:#f0f0f0;color:#777}.badge.resume{background:#fff3d6;color:#8a5a00}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px}
.charts{display:flex;flex-wrap:wrap;gap:8px 24px}figure.chart{margin:8px 0;max-width:720px;flex:1 1 480px}figure.chart svg,figure.chart img{width:100%;height:auto;border:1px solid #eee}
table.samples td.text{white-space:pre-wrap;word-break:break-word;max-width:420px}
table.samples div.gen{max-height:18em;overflow:auto}
ul.models{padding-left:18px}pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px;max-height:480px}
details{margin:6px 0}summary{cursor:pointer;color:#2f6db5}
`;

