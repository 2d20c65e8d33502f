"""The auditor's verifier as ONE file: the modules of :mod:`evidence_store.verifier`, bundled in dependency order.

Why a build step and not a second copy: the package is the verifier the library itself runs (``python -m
evidence_store verify``, the store's reads, the tests), split into modules of one concern each; the standalone file
is made from exactly those modules, so there is one source of truth and nothing to keep in step by hand. The file is
not committed: it is built on demand (the evidence page serves it, the SOP dossier prints its SHA-256, ``python -m
evidence_store standalone-verifier --out FILE`` writes it). The build is deterministic, so the same code always
gives the same bytes and the same SHA-256; a different hash means different verifier code.

The rules the build checks, so that concatenation cannot change what the code means:

* a verifier module imports only the standard library, ``cryptography`` and its sibling modules, the latter as
  ``from .module import name`` (no renaming), from modules that come earlier in :data:`verifier.MODULES`;
* no two modules define the same top-level name, and no defined name shadows an imported one; two modules that
  import the same name import the same thing.

A violation raises :class:`BuildError` naming the module and the name (a unit test builds the file on every run).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from . import verifier

PACKAGE_DIR = Path(verifier.__file__).parent
#: the name the auditor gets the file under
STANDALONE_NAME = "rtuk_verify.py"
ALLOWED_THIRD_PARTY = frozenset({"cryptography"})

_HEADER = '''#!/usr/bin/env python3
"""Remote TUK: the offline verifier for evidence bundles ({bundle_format}), in one file.

It needs Python 3.11 or newer and the ``cryptography`` package (``python3 -m pip install cryptography``), nothing
else: no network, no server, no other file. Read it: it is all here.

    python3 {name} verify BUNDLE.zip --pubkey 'origin+1a2b3c4d+AXsD...'
    python3 {name} verify BUNDLE.zip --pubkey KEY --decrypt-with auditor --extract-to out/
    python3 {name} keygen --out auditor          (your key pair; send only auditor.pub to the LSP)
    python3 {name} verify-log entries.jsonl checkpoint --pubkey KEY
    python3 {name} verify-consistency OLD_CHECKPOINT NEW_CHECKPOINT PROOF --pubkey KEY

Take the LSP's verifier key (--pubkey) from its SOP dossier or another channel you trust, never from the bundle
alone. The SHA-256 of this file is printed on the evidence page and in the LSP's SOP dossier: compare them.

{generated}
"""

from __future__ import annotations

'''


class BuildError(RuntimeError):
    """The verifier's modules cannot be bundled into one file without changing their meaning."""


@dataclass(frozen=True)
class StandaloneVerifier:
    name: str
    data: bytes
    sha256: str


def _stdlib_or_allowed(module: str, where: str) -> None:
    root = module.split(".")[0]
    if root not in sys.stdlib_module_names and root not in ALLOWED_THIRD_PARTY:
        raise BuildError(f"{where} imports {module}: the verifier may import only the standard library and "
                         f"{', '.join(sorted(ALLOWED_THIRD_PARTY))}")


def _defined_names(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.extend(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return names


def build(modules: tuple[str, ...] = verifier.MODULES, directory: Path = PACKAGE_DIR) -> bytes:
    """The standalone verifier's bytes, bundled from ``directory``'s ``modules`` in that order."""
    plain_imports: set[tuple[str, str | None]] = set()  # import module [as alias]
    from_imports: dict[str, set[tuple[str, str | None]]] = {}  # from module import name [as alias]
    bound: dict[str, str] = {}  # name bound by an absolute import -> what it is
    defined: dict[str, str] = {}  # top-level name -> module defining it
    bodies: list[str] = []
    for position, module in enumerate(modules):
        where = f"evidence_store/verifier/{module}.py"
        source = (directory / f"{module}.py").read_text(encoding="utf-8")
        tree = ast.parse(source, where)
        lines = source.splitlines(keepends=True)
        drop: set[int] = set()
        doc = ast.get_docstring(tree, clean=True) or ""
        for i, node in enumerate(tree.body):
            if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                    and isinstance(node.value.value, str):
                drop.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
                continue
            if isinstance(node, ast.ImportFrom):
                if node.module == "__future__":
                    pass
                elif node.level:
                    if node.level != 1 or node.module not in modules[:position]:
                        raise BuildError(f"{where}: 'from {'.' * node.level}{node.module or ''} import' must name a "
                                         "sibling module that comes earlier in verifier.MODULES")
                    for alias in node.names:
                        if alias.asname or alias.name == "*":
                            raise BuildError(f"{where}: import {alias.name} from .{node.module} without renaming")
                        if defined.get(alias.name) != node.module:
                            raise BuildError(f"{where}: .{node.module} defines no top-level {alias.name}")
                else:
                    assert node.module is not None
                    _stdlib_or_allowed(node.module, where)
                    for alias in node.names:
                        name = alias.asname or alias.name
                        what = f"{node.module}.{alias.name}"
                        if bound.setdefault(name, what) != what:
                            raise BuildError(f"{where}: {name} is {what} here and {bound[name]} elsewhere")
                        from_imports.setdefault(node.module, set()).add((alias.name, alias.asname))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    _stdlib_or_allowed(alias.name, where)
                    name = alias.asname or alias.name.split(".")[0]
                    what = alias.name if alias.asname else alias.name.split(".")[0]
                    if bound.setdefault(name, what) != what:
                        raise BuildError(f"{where}: {name} is {what} here and {bound[name]} elsewhere")
                    plain_imports.add((alias.name, alias.asname))
            else:
                continue
            drop.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        for name in _defined_names(tree):
            if name in defined:
                raise BuildError(f"{where} defines {name}, which {defined[name]}.py defines too")
            defined[name] = module
        body = "".join(line for n, line in enumerate(lines, 1) if n not in drop).strip("\n")
        title = doc.splitlines()[0] if doc else ""
        bodies.append(f"# {'-' * 114}\n# {module}.py: {title}\n# {'-' * 114}\n\n{body}\n")
    shadowed = sorted(set(defined) & set(bound))
    if shadowed:
        raise BuildError(f"top-level definitions shadow imported names: {', '.join(shadowed)}")
    import_lines = [f"import {m}" + (f" as {a}" if a else "") for m, a in sorted(plain_imports, key=_import_key)]
    for module in sorted(from_imports):
        names = ", ".join(n + (f" as {a}" if a else "") for n, a in sorted(from_imports[module]))
        import_lines.append(f"from {module} import {names}")
    stdlib = [x for x in import_lines if x.split()[1].split(".")[0] in sys.stdlib_module_names]
    others = [x for x in import_lines if x not in stdlib]
    generated = textwrap.fill(
        "Generated by evidence_store/standalone.py from the modules of evidence_store/verifier/ ("
        + ", ".join(f"{m}.py" for m in modules) + "); those modules are the source. Format: docs/BUNDLE-FORMAT.md. "
        "Guide for auditors (Indonesian and English): docs/VERIFYING.md.", width=116, break_on_hyphens=False)
    header = _HEADER.format(bundle_format=_literal(directory, "bundle", "BUNDLE_FORMAT"), name=STANDALONE_NAME,
                            generated=generated)
    text = header + "\n".join(stdlib) + "\n\n" + "\n".join(others) + "\n\n\n" + "\n\n".join(bodies)
    compile(text, STANDALONE_NAME, "exec")  # never hand out a file that does not parse
    return text.encode("utf-8")


def _import_key(item: tuple[str, str | None]) -> tuple[str, str]:
    return item[0], item[1] or ""


def _literal(directory: Path, module: str, name: str) -> str:
    """The value of a module-level string constant, read from the source (the header names the bundle format)."""
    tree = ast.parse((directory / f"{module}.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets) \
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return node.value.value
    raise BuildError(f"{module}.py defines no string constant {name}")


@functools.cache
def standalone_verifier() -> StandaloneVerifier:
    """The file an auditor downloads, built once per process from the installed verifier modules."""
    data = build()
    return StandaloneVerifier(STANDALONE_NAME, data, hashlib.sha256(data).hexdigest())


def write_standalone(path: Path) -> StandaloneVerifier:
    built = standalone_verifier()
    path.write_bytes(built.data)
    return built
