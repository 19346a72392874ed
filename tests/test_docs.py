"""The documentation covers every public name and builds from files that exist."""

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import featx

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def api_sections() -> list[str]:
    tree = ast.parse((DOCS / "conf.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "API_SECTIONS":
            return [ast.literal_eval(elt)[0] for elt in node.value.elts]
    raise AssertionError("docs/conf.py defines no API_SECTIONS")


def public_modules() -> set[str]:
    found = {"featx"}
    for info in pkgutil.walk_packages(featx.__path__, "featx."):
        if any(part.startswith("_") for part in info.name.split(".")) or ".cli" in info.name:
            continue
        if hasattr(importlib.import_module(info.name), "__all__"):
            found.add(info.name)
    return found


def test_the_api_page_lists_every_public_module():
    listed = api_sections()
    assert len(listed) == len(set(listed))
    assert public_modules() == set(listed)


def test_every_public_module_has_an_all_and_every_name_in_it_exists():
    for name in api_sections():
        module = importlib.import_module(name)
        missing = [n for n in module.__all__ if not hasattr(module, n)]
        assert not missing, f"{name}.__all__ names what it lacks: {missing}"


def test_pages_link_only_to_pages_and_images_that_exist():
    broken = []
    for page in [*DOCS.rglob("*.md"), ROOT / "README.md"]:
        if "_build" in page.parts or "auto_examples" in page.parts:
            continue
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("auto_examples") or target in ("api.rst",):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []
