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


def test_no_prose_paragraph_stops_mid_sentence():
    """Every prose paragraph of the README and the docs pages starts a sentence (a capital, a
    name such as ``featx``, or the continuation of the code block above it) and ends one."""
    skip = ("#", "|", "-", "*", ">", "<", "!", "[", ":::", "{", "$$", "..", "+")
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md")), *sorted((DOCS / "user_guide").glob("*.md"))]
    broken = []
    for page in pages:
        after_code = False
        for block in re.split(r"(```.*?```)", page.read_text(encoding="utf-8"), flags=re.S):
            if block.startswith("```"):
                after_code = True
                continue
            for i, para in enumerate(p.strip() for p in re.split(r"\n\s*\n", block) if p.strip()):
                if para.startswith(skip) or re.match(r"\d+\.", para):
                    continue
                continues = i == 0 and after_code
                starts = not para[0].islower() or para.startswith("featx") or continues
                ends = para.rstrip("*_`\"')] ").endswith((".", "!", "?", ":"))
                if not (starts and ends):
                    broken.append(f"{page.relative_to(ROOT)}: {para[:50]!r}...{para[-30:]!r}")
            after_code = False
    assert broken == []
