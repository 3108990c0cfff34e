"""Every message the pages' features raise has a Chinese rendering in static/pages/js/i18n.js.

The API answers integrators in English; the pages translate. This reads the services' raise
statements (detail and field messages) and the pages' pattern table, and lists what is missing.
Messages of features the pages do not call yet are not checked (listed below); refusals whose
`code` has a text in static/pages/js/code-messages.js are rendered from the code."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
I18N = ROOT / "static" / "pages" / "js" / "i18n.js"
CHECKED = ["auth.py", "api.py", "patients/services.py", "pharmacies/services.py", "prescriptions/services.py",
           "flags/services.py", "drugs/services.py", "signatures/services.py",
           "accounts/services.py", "public/services.py"] + [
    f"procurement/{name}.py" for name in ("scope", "batches", "standards", "volumes", "purchases", "imports",
                                          "declarations", "workdays", "supply", "progress", "execution")]
ERRORS = {"Invalid", "Conflict", "NotFound", "Forbidden", "Unauthorized"}


def _sample(node) -> str | None:
    """A string literal, or an f-string with each placeholder filled by a plausible value."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(value.value)
            elif isinstance(value.value, ast.IfExp) and isinstance(value.value.body, ast.Constant):
                parts.append(value.value.body.value)
            else:
                parts.append("1")
        return "".join(parts)
    return None


# Refusals the pages render by their `code` (static/pages/js/code-messages.js, issue 20).
CODE_MESSAGES = ROOT / "static" / "pages" / "js" / "code-messages.js"


def coded_on_the_pages() -> set[str]:
    source = CODE_MESSAGES.read_text()
    table = source[source.index("CODE_TEXT = {"):source.index("};")]
    return set(re.findall(r"^\s*([a-z_]+):", table, re.MULTILINE))


def raised_messages() -> set[str]:
    messages = set()
    coded = coded_on_the_pages()
    for name in CHECKED:
        tree = ast.parse((ROOT / "dualchannel" / name).read_text())
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ERRORS):
                continue
            code = next((k.value.value for k in node.keywords if k.arg == "code" and isinstance(k.value, ast.Constant)), None)
            if code in coded:
                continue  # rendered from its code, whatever the English says
            if node.args and (text := _sample(node.args[0])):
                messages.add(text)
            for argument in node.args[1:2]:
                for inner in ast.walk(argument):
                    if isinstance(inner, ast.List):
                        messages.update(t for t in map(_sample, inner.elts) if t)
    return messages


def page_patterns() -> list[re.Pattern]:
    source = I18N.read_text()
    return [re.compile(p) for p in re.findall(r"^\s*\[/(.+?)/,", source, re.MULTILINE)]


def test_every_message_has_a_chinese_rendering():
    patterns = page_patterns()
    assert len(patterns) > 50
    messages = raised_messages()
    assert len(messages) > 40
    untranslated = sorted(m for m in messages if not any(p.search(m) for p in patterns))
    assert untranslated == []
