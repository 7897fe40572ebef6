"""The website tracking snippet ``/t.js`` and its demo page ``/t/demo`` (see docs/snippet.md).

``/t.js`` is a static, dependency-free script (served gzipped when the browser accepts it, with an ETag and an
hour of caching). It posts Segment-style messages to ``/v1/page``, ``/v1/track`` and ``/v1/batch`` with the
site's public ingest key as ``writeKey``. ``/t/demo?key=<ingest key>`` is a small page that loads it with form
capture on (``&consent=required`` to require consent first), for trying the snippet and for the browser test.
"""

from __future__ import annotations

import gzip
import hashlib
import html
from functools import cache
from importlib import resources
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

router = APIRouter(tags=["snippet"], include_in_schema=False)

CACHE = "public, max-age=3600"
DEMO_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


@cache
def _asset(name: str) -> tuple[bytes, bytes, str]:
    raw = resources.files("leadflow.api").joinpath("static", name).read_bytes()
    return raw, gzip.compress(raw, 9, mtime=0), '"' + hashlib.sha256(raw).hexdigest()[:20] + '"'


def _script(request: Request, name: str) -> Response:
    raw, packed, etag = _asset(name)
    headers = {"Cache-Control": CACHE, "ETag": etag, "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff",
               "Cross-Origin-Resource-Policy": "cross-origin"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(packed, media_type="text/javascript; charset=utf-8",
                        headers={**headers, "Content-Encoding": "gzip"})
    return Response(raw, media_type="text/javascript; charset=utf-8", headers=headers)


@router.get("/t.js")
def snippet(request: Request) -> Response:
    """The tracking snippet."""
    return _script(request, "t.js")


@router.get("/t/demo.js")
def demo_script(request: Request) -> Response:
    """The demo page's own behaviour (no inline script, so a strict CSP holds)."""
    return _script(request, "t-demo.js")


DEMO = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>leadflow snippet demo</title>
<style>
body{{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1d2433}}
code{{background:#eef1f6;padding:.1rem .3rem;border-radius:4px}}
pre{{background:#eef1f6;padding:1rem;white-space:pre-wrap;word-break:break-all}}
label{{display:grid;gap:.2rem}}
form{{display:grid;gap:.6rem;max-width:24rem;margin:1rem 0}} input,button{{font:inherit;padding:.45rem .6rem}}
button{{background:#2457d6;color:#fff;border:0;border-radius:6px;cursor:pointer}}
.note{{color:#5a6478;font-size:.9rem}} .ok{{color:#137a3a;font-weight:600}} .warn{{color:#a14b00}}
</style></head>
<body>
<h1>leadflow tracking snippet: demo</h1>
<p>This page loads <code>/t.js</code>. It sends a page view (URL, title, referrer, UTM parameters), time on page
when you leave, and, when you submit the form, identifies you by email and merges your anonymous history.</p>
<p id="status" class="note">{status}</p>
<div id="consent-box" {consent_hidden}><p class="warn">This page requires consent before anything is sent or
stored.</p><button type="button" id="consent-yes">Accept tracking</button>
<button type="button" id="consent-no">Refuse</button></div>
<form id="demo-form" name="demo-signup" action="/t/demo" method="post">
<label>Email <input type="email" name="email" required autocomplete="email"></label>
<label>First name <input type="text" name="first_name" autocomplete="given-name"></label>
<label>Company <input type="text" name="company" autocomplete="organization"></label>
<button type="submit">Get the report</button>
</form>
<p id="thanks" class="ok" hidden>Thanks! You are identified; your earlier page views now belong to you.</p>
<h2>Install on your site</h2>
<pre>{install}</pre>
<p class="note">Anonymous id cookie: <code>lf_aid</code> (first party). Do Not Track and Global Privacy Control
are honoured. Add <code>data-require-consent</code> to wait for <code>leadflow('consent', true)</code>.</p>
{tag}
<script src="/t/demo.js" defer></script>
</body></html>
"""


@router.get("/t/demo")
def demo(request: Request,
         key: Annotated[str | None, Query(max_length=200, description="Public ingest key")] = None,
         consent: Annotated[Literal["required", "none"], Query()] = "none") -> Response:
    """A page that loads the snippet with form capture on."""
    settings = request.app.state.settings
    key = key or getattr(settings, "snippet_demo_key", "") or ""
    base = str(request.base_url).rstrip("/")
    required = consent == "required"
    attrs = f'data-key="{html.escape(key)}" data-capture-forms' + (" data-require-consent" if required else "")
    tag = f'<script src="/t.js" {attrs} async></script>' if key else ""
    status = ("Tracking with the ingest key given." if key else
              "No ingest key: create one (leadflow keys create --kind ingest, or POST /v1/keys) and open "
              "/t/demo?key=&lt;key&gt;, or set LEADFLOW_SNIPPET_DEMO_KEY. Nothing is sent.")
    install = html.escape(f'<script src="{base}/t.js" data-key="YOUR_INGEST_KEY" data-capture-forms async>'
                          "</script>")
    body = DEMO.format(status=status, consent_hidden="" if required and key else "hidden", install=install, tag=tag)
    return Response(body, media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": DEMO_CSP, "Cache-Control": "no-store",
                             "Referrer-Policy": "no-referrer-when-downgrade"})
