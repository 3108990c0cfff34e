"""Dependencies point one way: the kernel (the top-level modules of `dualchannel` and the
shared `geo` package) imports no feature. The composition roots, which wire features together,
are the exceptions: the app factory, the CLI, the demo data and the model registry."""

import ast
import importlib
from pathlib import Path

import dualchannel

PACKAGE = Path(dualchannel.__file__).parent
COMPOSITION_ROOTS = {"__init__", "cli", "demo", "models"}
SHARED_PACKAGES = {"geo"}  # value types every feature uses (county boundaries), kernel too
FEATURES = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} - SHARED_PACKAGES - {"migrations"}


def kernel_modules():
    yield from (p for p in PACKAGE.glob("*.py") if p.stem not in COMPOSITION_ROOTS)
    for package in SHARED_PACKAGES:
        yield from (PACKAGE / package).rglob("*.py")


def imported(path: Path) -> set[str]:
    """Every `dualchannel.<name>` a module imports, at its top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "dualchannel":
                names.update([parts[1]] if len(parts) > 1 else [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[1] for alias in node.names
                         if alias.name.startswith("dualchannel."))
    return names


def test_the_kernel_imports_no_feature():
    modules = list(kernel_modules())
    assert len(modules) > 10 and FEATURES >= {"prescriptions", "patients", "procurement"}
    offending = {str(path.relative_to(PACKAGE)): sorted(imported(path) & FEATURES) for path in modules}
    assert {module: names for module, names in offending.items() if names} == {}


def test_the_check_sees_an_import_of_a_feature(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from dualchannel.patients.services import x\n"
                      "from dualchannel import prescriptions, clock\nimport dualchannel.audit.rules\n")
    assert imported(module) & FEATURES == {"patients", "prescriptions", "audit"}


def tables_read(path: Path) -> set[str]:
    """The features whose tables (SQLModel classes with a table) a module imports; their
    enums and constants are values, not tables, and do not count."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if len(parts) == 3 and parts[0] == "dualchannel" and parts[2] == "models":
                models = importlib.import_module(node.module)
                if any(getattr(getattr(models, alias.name), "__table__", None) is not None for alias in node.names):
                    names.add(parts[1])
    return names


# Issue 19 asks that a feature read another's tables only through that feature's services. Not
# there yet: these are the features that still import another's models (mostly the read models
# that join across the ledger: audit's scans, the timeline, traceability, the one-query load of
# a prescription). The list is exact: a new cross-feature read fails the test, and so does one
# removed without taking it off the list.
TABLES_READ_ACROSS = {
    "accounts": {"institutions", "pharmacies"},
    "audit": {"drugs", "flags", "institutions", "patients", "pharmacies", "prescriptions", "settlements"},
    "coverage": {"pharmacies"},
    "history": {"prescriptions", "settlements"},
    "patients": {"access_log", "drugs", "flags", "institutions"},
    "pharmacies": {"drugs"},
    "prescriptions": {"drugs", "institutions", "packs", "patients", "pharmacies", "signatures"},
    "procurement": {"drugs", "flags", "institutions", "packs", "pharmacies"},
    "public": {"pharmacies"},
    "settlements": {"drugs", "pharmacies", "prescriptions"},
    "signatures": {"institutions", "pharmacies"},
    "timeline": {"drugs", "institutions", "pharmacies", "prescriptions", "settlements"},
    "traceability": {"drugs", "institutions", "packs", "patients", "pharmacies", "prescriptions"},
}


def test_features_read_other_features_tables_only_where_listed():
    found: dict[str, set[str]] = {}
    for feature in FEATURES:
        for path in (PACKAGE / feature).rglob("*.py"):
            others = tables_read(path) - {feature}
            if others:
                found.setdefault(feature, set()).update(others)
    assert found == TABLES_READ_ACROSS
