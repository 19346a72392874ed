"""Import rules: `import featx` is cheap and free of torch; library modules configure nothing."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "featx"


def test_import_featx_does_not_import_torch_or_h5py():
    code = "import sys, featx, featx.data, featx.features; print(sorted(m for m in ('torch', 'h5py', 'timm') if m in sys.modules))"
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


def test_data_layer_never_imports_torch():
    for path in (PACKAGE / "data").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        assert not [m for m in names if m.split(".")[0] in ("torch", "h5py", "timm", "torchvision")], path
