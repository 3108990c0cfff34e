"""Dependencies point one way: the kernel (the top-level modules of `dualchannel` and the
shared `geo` package) imports no feature. The composition roots, which wire features together,
are the exceptions: the app factory, the CLI, the demo data and the model registry."""

import ast
import functools
import importlib
from pathlib import Path

import dualchannel

PACKAGE = Path(dualchannel.__file__).parent
COMPOSITION_ROOTS = {"__init__", "cli", "demo", "models", "synthetic"}
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


@functools.cache
def table_classes() -> dict[str, set[str]]:
    """Each feature's table classes (SQLModel classes with a table); enums and constants in its
    models are values, not tables."""
    out = {}
    for feature in FEATURES:
        if (PACKAGE / feature / "models.py").exists():
            models = importlib.import_module(f"dualchannel.{feature}.models")
            out[feature] = {name for name, value in vars(models).items()
                            if isinstance(value, type) and getattr(value, "__table__", None) is not None
                            and value.__module__ == models.__name__}
    return out


def tables_read(path: Path) -> set[str]:
    """The features whose tables a module reaches: a table class imported from any of the
    feature's modules, its `models` module imported whole, or a table class read as an
    attribute of a module of the feature (a re-export through its services). An import for
    annotations only (under `if TYPE_CHECKING:`) reads nothing."""
    tables = table_classes()
    names, modules = set(), {}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):  # imports only annotations read (`if TYPE_CHECKING:`) read no table
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "dualchannel" or len(parts) < 2:
                continue
            if len(parts) == 2:  # from dualchannel.pharmacies import services, models
                for alias in node.names:
                    modules[alias.asname or alias.name] = parts[1]
                    if alias.name == "models":
                        names.add(parts[1])
            elif any(alias.name in tables.get(parts[1], ()) for alias in node.names):
                names.add(parts[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "dualchannel" and len(parts) > 2 and parts[2] == "models":
                    names.add(parts[1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            if node.attr in tables.get(modules[node.value.id], ()):
                names.add(modules[node.value.id])
    return names


def test_the_table_check_sees_every_way_in(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from dualchannel.drugs.models import Drug, Storage\n"
                      "from dualchannel.flags.models import FlagStatus\n"  # an enum: a value
                      "from dualchannel.institutions import models\n"
                      "import dualchannel.packs.models\n"
                      "from dualchannel.pharmacies import services as pharmacies\n"
                      "def f():\n    return pharmacies.Pharmacy, pharmacies.is_active\n"
                      "if typing.TYPE_CHECKING:\n    from dualchannel.patients.models import Patient\n")
    assert tables_read(module) == {"drugs", "institutions", "packs", "pharmacies"}


def test_features_read_other_features_tables_only_through_their_services():
    """A feature reads another's tables only through that feature's services: lookups that
    return values or its rows, `with_<table>(statement, on)` to load its row in the caller's one
    query, `<table>_view()` subqueries of the columns it lets others join and aggregate on."""
    found: dict[str, set[str]] = {}
    for feature in FEATURES:
        for path in (PACKAGE / feature).rglob("*.py"):
            others = tables_read(path) - {feature}
            if others:
                found.setdefault(str(path.relative_to(PACKAGE)), set()).update(others)
    assert len(table_classes()) > 10
    assert found == {}
