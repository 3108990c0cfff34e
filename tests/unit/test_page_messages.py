"""Every field message the pages' features raise has a Chinese rendering in static/pages/js/i18n.js.

The API answers integrators in English; the pages translate. A problem's message comes from its
`code` (the registry's zh-CN table, tests/api/test_problem_codes.py); what remains are the
messages of single fields (the values of a 422's `errors`). This reads the services' raise
statements' field messages and the pages' FIELD_MESSAGES table, and lists what is missing.
Messages of features the pages do not call yet are not checked (listed below)."""

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


def raised_messages() -> set[str]:
    messages = set()
    for name in CHECKED:
        tree = ast.parse((ROOT / "dualchannel" / name).read_text())
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ERRORS):
                continue
            for argument in node.args[1:2]:
                for inner in ast.walk(argument):
                    if isinstance(inner, ast.List):
                        messages.update(t for t in map(_sample, inner.elts) if t)
    return messages


def page_patterns() -> list[re.Pattern]:
    source = I18N.read_text()
    table = source[source.index("const FIELD_MESSAGES = ["):]
    table = table[:table.index("\n];\n")]
    return [re.compile(p) for p in re.findall(r"^\s*\[/(.+?)/,", table, re.MULTILINE)]


def test_every_field_message_has_a_chinese_rendering():
    patterns = page_patterns()
    assert len(patterns) > 50
    messages = raised_messages()
    assert len(messages) > 30
    untranslated = sorted(m for m in messages if not any(p.search(m) for p in patterns))
    assert untranslated == []
