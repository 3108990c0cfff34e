"""The pages translate field messages by code, never by matching English sentences.

A 422's `errors` gives each field its English messages for integrators; `error_codes` gives the
same messages' codes, which `problems.FIELDS` turns into zh-CN (served in /problems.js). The
services name each message's code where they raise it (`errors.FieldMessage`); marshmallow's and
webargs' own messages get theirs from the libraries' texts. These tests keep the raises, the
registry and the pages equal; the autouse check in tests/conftest.py checks every 422 the suite
sees."""

import ast
from pathlib import Path

from dualchannel import problems

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "dualchannel"
I18N = ROOT / "static" / "pages" / "js" / "i18n.js"
RAISERS = {"Invalid", "Conflict", "NotFound", "Forbidden", "Unauthorized", "ValidationError"}


def _modules():
    return [p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts]


# What names a field code as its first argument: a message, and the ID number check's reason
# (`identity.InvalidIdNumber`, which services turn into a message with its code).
CODE_NAMERS = {"FieldMessage", "InvalidIdNumber"}


def _is_field_message(node) -> bool:
    return isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in CODE_NAMERS


def named_codes() -> dict[str, str]:
    """code -> where: the first argument of every `FieldMessage(...)` (or `InvalidIdNumber`) in
    the package."""
    found = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if _is_field_message(node) and node.args and isinstance(node.args[0], ast.Constant):
                found.setdefault(node.args[0].value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def bare_messages() -> list[str]:
    """Field messages written as plain strings where a domain exception or a ValidationError is
    raised: a list of messages in its `errors` argument (or its first, for ValidationError)
    whose elements are string literals or f-strings, not `FieldMessage(...)`."""
    bare = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in RAISERS):
                continue
            arguments = node.args[:1] if node.func.id == "ValidationError" else node.args[1:2]
            for argument in arguments:
                for inner in ast.walk(argument):
                    if isinstance(inner, ast.List):
                        bare.extend(f"{path.relative_to(ROOT)}:{inner.lineno}" for element in inner.elts
                                    if isinstance(element, (ast.Constant, ast.JoinedStr)))
                    elif node.func.id == "ValidationError" and inner is argument and isinstance(
                            inner, (ast.Constant, ast.JoinedStr)):
                        bare.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    return bare


def test_every_raised_field_message_names_its_code():
    assert bare_messages() == []


def test_the_registry_holds_exactly_the_codes_in_use():
    library = set(problems._LIBRARY_MESSAGES[0].values()) | {code for _, code in problems._LIBRARY_MESSAGES[1]}
    used = set(named_codes()) | library | {"uncoded"}
    assert len(named_codes()) > 50
    assert sorted(used - set(problems.FIELDS)) == []  # a code without zh-CN text
    assert sorted(set(problems.FIELDS) - used) == []  # a registered code nothing gives


def test_library_messages_have_their_codes_and_values():
    for message, expected in [
        ("Missing data for required field.", {"code": "required"}),
        ("Unknown field.", {"code": "unknown_field"}),
        ("Longer than maximum length 40.", {"code": "too_long", "max": "40"}),
        ("Must be greater than or equal to 1 and less than or equal to 84.", {"code": "between", "min": "1", "max": "84"}),
        ("Must be greater than or equal to 0.", {"code": "at_least", "min": "0"}),
        ("Must be one of: employee, resident.", {"code": "not_one_of", "choices": "employee, resident"}),
        ("Invalid JSON body.", {"code": "json_invalid"}),
        ("Something no one coded.", {"code": "uncoded"}),
    ]:
        assert problems.field_code(message) == expected


def test_a_field_message_keeps_its_code_through_formatting_and_copies():
    import copy
    import pickle

    from dualchannel.errors import FieldMessage

    message = FieldMessage("too_many_codes", "At most {limit} codes.", limit=500)
    for same in (message.format(limit=500), copy.deepcopy(message), pickle.loads(pickle.dumps(message))):
        assert problems.field_code(same) == {"code": "too_many_codes", "limit": 500}


def test_the_pages_translate_codes_not_sentences():
    source = I18N.read_text(encoding="utf-8")
    assert "FIELD_MESSAGES" not in source and "translateField" not in source
    assert "error_codes" in source and "FIELDS" in source
    assert "export const FIELDS = " in problems.module_source()
