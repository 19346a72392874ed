"""Import rules: one-way imports between featx's parts (the table below), no private name across
them, `import featx` cheap and free of torch, library modules configure nothing."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "featx"


def test_import_featx_does_not_import_torch_or_h5py():
    code = (
        "import sys, featx, featx.data, featx.features, featx.domains, featx.adapt, featx.classify, featx.select, "
        "featx.transferability; "
        "print(sorted(m for m in ('torch', 'h5py', 'timm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent)
    assert out.stdout.strip() == "[]"


def test_no_logging_setup_or_global_sklearn_config_outside_the_cli():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("basicConfig", "set_config"):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


NUMPY_ONLY = ["data", "adapt", "classify.py", "domains.py", "features.py", "select", "metrics.py", "protocol.py",
              "transferability/_scores.py", "transferability/_registry.py"]


def test_data_and_estimator_layers_never_import_torch_or_h5py():
    paths = [p for name in NUMPY_ONLY
             for p in ((PACKAGE / name).rglob("*.py") if (PACKAGE / name).is_dir() else [PACKAGE / name])]
    assert len(paths) > 8
    for path in paths:
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        assert not [m for m in names if m.split(".")[0] in ("torch", "h5py", "timm", "torchvision")], path


#: Which part of featx may import which. A part is a subpackage or a top-level module; read
#: bottom-up, every arrow points down, so no cycle can form. ``featx`` itself (the package
#: root: ``__version__``) may be imported by every part.
#:
#: - ``runtime`` is what extraction and fine-tuning both run on (device, precision, loaders,
#:   allocator); ``protocol`` (budget draws, splits, CIs) what evaluation and fine-tuning share.
#: - ``deepda`` (torch heads on embeddings) is built by ``methods`` only inside a builder, so
#:   importing the registry stays free of torch.
#: - ``finetune`` reaches ``extract`` for one thing: ``head_init="logreg"`` (LP-FT) fits its
#:   linear probe on the cached frozen features, the same rows the frozen heads use.
#: - ``transferability`` (the scores behind ``featx.rank``) reads features through ``extract``; its
#:   scores are numpy only.
ALLOWED = {
    "utils": set(),
    "metrics": set(),
    "protocol": set(),
    "features": {"utils"},
    "domains": {"features", "utils"},
    "data": {"domains", "utils"},
    "classify": {"domains", "utils"},
    "adapt": {"domains", "utils"},
    "methods": {"adapt", "classify", "deepda", "domains", "utils"},
    "deepda": {"domains", "runtime", "utils"},
    "select": {"domains", "metrics", "utils"},
    "persist": {"adapt", "utils"},
    "runtime": {"data", "utils"},
    "backbones": {"data", "runtime", "utils"},
    "extract": {"backbones", "data", "features", "runtime", "utils"},
    "finetune": {"backbones", "data", "deepda", "extract", "metrics", "protocol", "runtime", "utils"},
    "evaluate": {"adapt", "backbones", "classify", "data", "domains", "extract", "features", "finetune",
                 "methods", "metrics", "protocol", "select", "utils"},
    "transferability": {"backbones", "data", "extract", "features", "protocol"},
    "cli": {"backbones", "classify", "data", "domains", "evaluate", "extract", "features", "finetune", "methods",
            "metrics", "persist", "select", "transferability", "utils"},
    "__main__": {"cli"},
    "__init__": {"_version", "features", "utils"},
    "_version": set(),
}


def _part(module: str) -> str:
    """``featx.adapt._coral`` -> ``adapt``; ``featx`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def featx_imports(path: Path, module: str | None = None):
    """Every import of a featx module in ``path`` (the module ``module``, by default read from
    the path), function-local ones included: ``(line, target module, imported names)``."""
    module = module or _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "featx":
                    yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "featx":
                yield node.lineno, target, [a.name for a in node.names]


def _all_imports():
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, target, names in featx_imports(path):
            yield path, line, target, names


def test_the_import_table_covers_every_part_and_has_no_cycle():
    parts = {_part(_module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert parts == set(ALLOWED), f"parts missing from ALLOWED: {parts - set(ALLOWED)}; stale: {set(ALLOWED) - parts}"
    order, seen = [], set()

    def visit(part, stack):
        assert part not in stack, f"cycle in ALLOWED: {' -> '.join([*stack, part])}"
        if part not in seen:
            for lower in ALLOWED[part]:
                visit(lower, [*stack, part])
            seen.add(part)
            order.append(part)

    for part in ALLOWED:
        visit(part, [])
    assert len(order) == len(ALLOWED)


def test_every_import_follows_the_table():
    offenders = []
    for path, line, target, names in _all_imports():
        here, there = _part(_module_name(path)), _part(target)
        if here == there or (target == "featx" and set(names) <= {"__version__"}):
            continue
        if there not in ALLOWED[here]:
            offenders.append(f"{path.relative_to(PACKAGE)}:{line} ({here} -> {there}: {target})")
    assert offenders == [], "imports against the table:\n" + "\n".join(offenders)


def test_no_private_name_crosses_a_part():
    offenders = []
    for path, line, target, names in _all_imports():
        here, there = _part(_module_name(path)), _part(target)
        where = f"{path.relative_to(PACKAGE)}:{line}"
        if here != there:  # through the part's public path only
            if any(p.startswith("_") for p in target.split(".")[2:]):
                offenders.append(f"{where} imports from the private module {target}")
            offenders += [f"{where} imports the private name {target}.{n}" for n in names
                          if n.startswith("_") and n != "__version__"]
        else:  # inside a part: private modules yes, private names of another module no
            folder = PACKAGE.parent.joinpath(*target.split("."))
            offenders += [f"{where} imports the private name {target}.{n}" for n in names
                          if n.startswith("_") and not (folder / f"{n}.py").exists() and not (folder / n).is_dir()]
    assert offenders == [], "\n".join(offenders)


def test_the_import_reader_sees_function_local_and_relative_imports(tmp_path):
    probe = tmp_path / "_probe.py"  # read as if it were featx/adapt/_probe.py
    probe.write_text("def f():\n    from featx.extract import extract_features\n    from . import _coral\n")
    found = list(featx_imports(probe, "featx.adapt._probe"))
    assert found == [(2, "featx.extract", ["extract_features"]), (3, "featx.adapt", ["_coral"])]


def test_featx_never_switches_scikit_learns_metadata_routing_on():
    """skada turns routing on globally when imported; featx's validators are its own and import
    no skada, so a user's session keeps scikit-learn's configuration."""
    code = (
        "import sys, numpy as np, sklearn, featx.select, featx.methods, featx.evaluate\n"
        "from featx.methods import make_selected\n"
        "rng = np.random.default_rng(0); X = rng.normal(size=(60, 4)); y = np.r_[np.arange(30) % 3, -np.ones(30, "
        "int)]\n"
        "sd = np.r_[np.ones(30, int), -2 * np.ones(30, int)]\n"
        "featx.select.select(lambda p: make_selected('coral', p), [{}], X, y, sd)\n"
        "print(sklearn.get_config()['enable_metadata_routing'], 'skada' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent)
    assert out.stdout.split() == ["False", "False"]


def test_the_design_page_shows_this_table():
    """docs/design.md's table of parts says, for every part, what this file's table allows."""
    import re
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "design.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z_]+)` \|.*\| ([^|]*) \|$", text, re.M))
    shown = {part: set() if deps.strip() == "-" else {d.strip() for d in deps.split(",")} for part,
             deps in rows.items()}
    expected = {part: deps for part, deps in ALLOWED.items() if part not in {"__main__", "__init__", "_version"}}
    assert shown == expected


def test_commands_that_compute_nothing_import_no_sklearn_scipy_or_torch(tiny_cache):
    """``--help``, ``methods``, ``backbones`` and ``cache ls/info/verify`` (on a real cache file)
    start without the heavy libraries, in one interpreter (what one imports, the next keeps)."""
    path = next(tiny_cache[1].rglob("*.h5"))
    code = (
        "import contextlib, io, sys\n"
        "from featx.cli.main import main\n"
        f"for argv in (['--help'], ['methods'], ['backbones'], ['cache', 'ls', '--cache-dir', {str(tiny_cache[1])!r}],"
        f" ['cache', 'info', {str(path)!r}], ['cache', 'verify', {str(path)!r}], ['extract', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            assert main(argv) == 0, argv\n"
        "        except SystemExit as exc:\n"
        "            assert exc.code == 0, argv\n"
        "print(sorted(m for m in ('sklearn', 'scipy', 'torch', 'timm', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
