"""The package as users meet it: help(), docstrings on everything public, type stubs that cover
the compiled module, and an installed copy that imports outside the build tree."""
import ast
import inspect
import os
import pathlib
import pydoc
import subprocess
import sys

import pytest

import evit
from evit import _core

PACKAGE_DIR = pathlib.Path(evit.__file__).parent


def public_members(obj):
    return [n for n in dir(obj) if not n.startswith("_")]


def public_classes_and_functions():
    """(qualified name, object) of every public class, function, method and property of _core."""
    out = []
    for name in public_members(_core):
        obj = getattr(_core, name)
        if inspect.ismodule(obj):  # the submodules evit.spaces, evit.cost
            for sub in public_members(obj):
                member = getattr(obj, sub)
                if callable(member) and not isinstance(member, (_core.Space,)):
                    out.append((f"{name}.{sub}", member))
        elif inspect.isclass(obj):
            out.append((name, obj))
            if issubclass(obj, BaseException):
                continue
            for m in public_members(obj):
                if m not in vars(obj):
                    continue  # inherited: checked on the base class that defines it
                out.append((f"{name}.{m}", inspect.getattr_static(obj, m)))
        elif callable(obj):
            out.append((name, obj))
    return out


def test_every_public_name_has_a_docstring():
    missing = []
    for qual, obj in public_classes_and_functions():
        doc = getattr(obj, "__doc__", None)
        if isinstance(obj, (int, float, str)):
            continue
        if not doc or not doc.strip():
            missing.append(qual)
    assert not missing, "no docstring: " + ", ".join(missing)


def stub_names():
    tree = ast.parse((PACKAGE_DIR / "_core.pyi").read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.ClassDef)):
                        names.add(f"{node.name}.{item.name}")
                    elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        names.add(f"{node.name}.{item.target.id}")
                    elif isinstance(item, ast.Assign):
                        for t in item.targets:
                            if isinstance(t, ast.Name):
                                names.add(f"{node.name}.{t.id}")
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_type_stubs_cover_the_compiled_module():
    stubs = stub_names()
    missing = [q for q, _ in public_classes_and_functions() if q not in stubs]
    assert not missing, "not in _core.pyi: " + ", ".join(missing)


def test_stubs_parse_and_name_nothing_that_does_not_exist():
    for qual in stub_names():
        obj = _core
        for part in qual.split("."):
            assert hasattr(obj, part), f"_core.pyi names {qual}, which the module lacks"
            obj = getattr(obj, part)


def test_help_is_useful():
    text = pydoc.render_doc(evit, renderer=pydoc.plaintext)
    for word in ["spaces", "Arch", "CostModel", "InvalidArch", "cardinality"]:
        assert word in text


def test_done_when_command():
    out = subprocess.run(
        [sys.executable, "-c", "import evit; s = evit.spaces.official; print(s.cardinality())"],
        capture_output=True, text=True, check=True, env=dict(os.environ))
    assert out.stdout.strip() == "21672453419827200"


def test_cmake_install_gives_an_importable_package(tmp_path):
    build = os.environ.get("EVIT_BUILD_DIR")
    if not build:
        pytest.skip("EVIT_BUILD_DIR (the CMake build tree) is not set; ctest sets it")
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", build, "--component", "python", "--prefix", str(prefix)],
                   check=True, capture_output=True)
    found = list(prefix.rglob("evit/__init__.py"))
    assert len(found) == 1, found
    site = found[0].parent.parent
    assert (found[0].parent / "_core.pyi").exists() and (found[0].parent / "py.typed").exists()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    out = subprocess.run([sys.executable, "-c",
                          "import evit; print(evit.__file__); print(evit.spaces.mini.cardinality())"],
                         capture_output=True, text=True, check=True, env=env, cwd=tmp_path)
    where, count = out.stdout.split()
    assert where.startswith(str(site)) and int(count) > 1
