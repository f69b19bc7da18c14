"""The html format: the SVG beside the shape table, with zoom (wheel, + and - buttons)
and pan (drag) in a few lines of inline JavaScript. One file, nothing fetched: it works
offline and from file://. Spec text is XML-escaped in the SVG and the table alike; no
spec text is ever placed inside the script."""

from __future__ import annotations

from ..text import printable, shape_text
from .model import number
from .svg import xml

STYLE = """
body{margin:0;font:13px DejaVu Sans Mono,Menlo,Consolas,monospace;color:#0f172a;background:#fff}
#wrap{display:flex;height:100vh}
#view{flex:1 1 60%;overflow:hidden;position:relative;border-right:1px solid #cbd5e1;cursor:grab}
#view svg{transform-origin:0 0;position:absolute;left:0;top:0}
#tools{position:absolute;right:8px;top:8px;z-index:1}
#tools button{font:inherit;margin-left:4px;min-width:2.2em}
#table{flex:1 1 40%;overflow:auto;padding:8px}
table{border-collapse:collapse}
th,td{border-bottom:1px solid #e2e8f0;padding:2px 6px;text-align:left;white-space:nowrap}
td.n{text-align:right}
tr.group td{font-style:italic;background:#f1f5f9}
"""

SCRIPT = """
(function(){
var view=document.getElementById('view'),svg=view.querySelector('svg');
var s=1,x=0,y=0,drag=null;
function apply(){svg.style.transform='translate('+x+'px,'+y+'px) scale('+s+')';}
function zoom(f,cx,cy){var n=Math.min(8,Math.max(0.05,s*f));x=cx-(cx-x)*n/s;y=cy-(cy-y)*n/s;s=n;apply();}
function fit(){var w=svg.width.baseVal.value,h=svg.height.baseVal.value;
s=Math.min(1,view.clientWidth/w,view.clientHeight/h);x=0;y=0;apply();}
view.addEventListener('wheel',function(e){e.preventDefault();var r=view.getBoundingClientRect();
zoom(e.deltaY<0?1.15:1/1.15,e.clientX-r.left,e.clientY-r.top);},{passive:false});
view.addEventListener('mousedown',function(e){drag=[e.clientX-x,e.clientY-y];view.style.cursor='grabbing';});
window.addEventListener('mouseup',function(){drag=null;view.style.cursor='grab';});
window.addEventListener('mousemove',function(e){if(drag){x=e.clientX-drag[0];y=e.clientY-drag[1];apply();}});
document.getElementById('zin').onclick=function(){zoom(1.25,0,0);};
document.getElementById('zout').onclick=function(){zoom(0.8,0,0);};
document.getElementById('zfit').onclick=fit;
document.getElementById('z1').onclick=function(){s=1;x=0;y=0;apply();};
fit();
})();
"""


def render_html(svg: str, table_rows, title: str, caption) -> str:
    """``svg`` (already escaped) beside a table of ``table_rows`` (totals.Row)."""
    body = []
    for r in table_rows:
        pad = "&#160;" * (2 * r.level)
        cls = ' class="group"' if r.kind == "group" else ""
        args = r.args if r.kind != "group" else ""
        body.append(
            f"<tr{cls}><td>{pad}{xml(printable(r.name))}</td><td>{xml(printable(r.type))}</td>"
            f"<td>{xml(printable(args))}</td><td>{xml(shape_text(r.output))}</td>"
            f'<td class="n">{number(r.params)}</td></tr>'
        )
    caption_html = "<br>".join(xml(line) for line in caption)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{xml(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        '<div id="wrap">\n<div id="view">\n<div id="tools">'
        '<button id="zin" title="zoom in">+</button><button id="zout" title="zoom out">-</button>'
        '<button id="zfit" title="fit">fit</button><button id="z1" title="100%">1:1</button>'
        "</div>\n"
        f"{svg}</div>\n"
        f'<div id="table">\n<p>{caption_html}</p>\n<table>\n'
        "<thead><tr><th>Layer</th><th>Type</th><th>Arguments</th><th>Output</th>"
        "<th>Params</th></tr></thead>\n<tbody>\n"
        + "\n".join(body)
        + "\n</tbody>\n</table>\n</div>\n</div>\n"
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
