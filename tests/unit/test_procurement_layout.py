"""The layout of procurement/ (issue 19): split by use case, no file over ~400 lines, and the
rules pure (no database, no Flask), so they stay testable with plain values."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "dualchannel" / "procurement"
IMPURE = ("sqlalchemy", "sqlmodel", "flask", "dualchannel.db", "dualchannel.procurement.models")


def test_no_procurement_module_is_over_400_lines():
    sizes = {path.relative_to(PACKAGE).as_posix(): len(path.read_text().splitlines())
             for path in PACKAGE.rglob("*.py")}
    assert len(sizes) >= 20
    assert {name: lines for name, lines in sizes.items() if lines > 400} == {}


def test_the_rules_import_no_database_and_no_flask():
    for path in (PACKAGE / "rules").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not name.startswith(IMPURE), (path.name, name)
                if name.startswith("dualchannel.procurement"):
                    assert name.startswith("dualchannel.procurement.rules"), (path.name, name)
