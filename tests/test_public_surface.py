"""One public path per name: every function and class in a public module's ``__all__`` is
exported by that module alone; the top-level ``featx`` namespace adds shortcuts to a few of
them (the names most scripts need), each the very object of its home module."""

import importlib
import inspect
import pkgutil
from collections import defaultdict

import featx


def _public_modules():
    names = [m.name for m in pkgutil.walk_packages(featx.__path__, "featx.")
             if not any(part.startswith("_") for part in m.name.split(".")[1:])]
    return [importlib.import_module(n) for n in names if n != "featx.cli.main"]


def test_every_public_name_has_one_path():
    paths = defaultdict(list)
    for module in _public_modules():
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                paths[id(obj)].append(f"{module.__name__}.{name}")
    twice = sorted(p for p in paths.values() if len(p) > 1)
    assert twice == []


def test_the_top_level_shortcuts_are_their_home_modules_objects():
    homes = {}
    for module in _public_modules():
        for name in getattr(module, "__all__", ()):
            homes.setdefault(name, []).append(module)
    for name in featx.__all__:
        if name == "__version__":
            continue
        home = [m for m in homes.get(name, []) if getattr(m, name) is getattr(featx, name)]
        assert len(home) == 1, (name, home)


def test_backbones_methods_scores_and_validators_are_listed_and_looked_up_alike():
    """``list_*`` gives name -> one-line description; ``get_*`` gives an entry whose name and
    description are those; an unknown name is refused with the known ones."""
    import pytest

    from featx.backbones import get_backbone, list_backbones
    from featx.methods import get_method, list_methods
    from featx.select import get_validator, list_validators
    from featx.transferability import get_score, list_scores

    for listing, get, unknown in ((list_backbones, get_backbone, "backbone"), (list_methods, get_method, "method"),
                                  (list_scores, get_score, "transferability score"),
                                  (list_validators, get_validator, "validator")):
        names = listing()
        assert isinstance(names, dict) and names and all(isinstance(d, str) for d in names.values())
        for name, description in names.items():
            entry = get(name)
            assert (entry.name, entry.description) == (name, description)
        with pytest.raises(ValueError, match=rf"Unknown {unknown} 'nope'; expected one of \[.*{list(names)[0]}"):
            get("nope")


def test_tests_import_private_modules_only_with_a_reason():
    """A test that imports a private module says why in a ``# private:`` comment on the line
    above or on the import itself; the others use the public paths."""
    import re
    from pathlib import Path

    private = re.compile(r"^\s*(from featx\.[\w.]*\._\w+ import|import featx\.[\w.]*\._\w+)")
    silent = []
    for path in sorted(Path(__file__).parent.glob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if private.match(line) and "# private:" not in line:
                above = [lines[j] for j in range(i - 1, -1, -1) if not private.match(lines[j])][:1]
                if not above or "# private:" not in above[0]:
                    silent.append(f"{path.name}:{i + 1}")
    assert silent == []
