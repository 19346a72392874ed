"""Import rules: `import featx` is cheap and free of torch; library modules configure nothing."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "featx"


def test_import_featx_does_not_import_torch_or_h5py():
    code = (
        "import sys, featx, featx.data, featx.features, featx.domains, featx.adapt, featx.classify; "
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


NUMPY_ONLY = ["data", "adapt", "classify.py", "domains.py", "features.py"]


def test_data_and_estimator_layers_never_import_torch_or_h5py():
    paths = [p for name in NUMPY_ONLY for p in ((PACKAGE / name).rglob("*.py") if (PACKAGE / name).is_dir() else [PACKAGE / name])]
    assert len(paths) > 8
    for path in paths:
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        assert not [m for m in names if m.split(".")[0] in ("torch", "h5py", "timm", "torchvision")], path
