"""A structural reading of the Move package with tree-sitter-move.

No Aptos CLI runs here, so the Move sources are read structurally: tree-sitter-move (PyPI 0.0.2,
installed by contracts/move/tools/install-tree-sitter-move.sh) parses every ``.move`` file and
:func:`read_package` extracts functions, structs, constants, attributes and ``std::error`` calls.
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
MOVE_DIR = REPO / "contracts" / "move"
VYPER_MARKET = REPO / "contracts" / "evm" / "market.vy"

# std::error category constants (aptos-stdlib `error.move`); an abort code is category << 16 | reason.
ERROR_CATEGORIES: dict[str, int] = {
    "invalid_argument": 0x1,
    "out_of_range": 0x2,
    "invalid_state": 0x3,
    "unauthenticated": 0x4,
    "permission_denied": 0x5,
    "not_found": 0x6,
    "aborted": 0x7,
    "already_exists": 0x8,
    "resource_exhausted": 0x9,
    "internal": 0xA,
    "not_implemented": 0xB,
    "unavailable": 0xD,
}


_ERROR_ARG = re.compile(r"\(\s*(E_[A-Z0-9_]+)\s*\)")


def move_parser() -> Any:
    """A tree-sitter Parser for Move; fails with the install command when the grammar is missing."""
    try:
        import tree_sitter_move
        from tree_sitter import Language, Parser
    except ImportError as exc:  # the check must not silently pass without its parser
        raise AssertionError(
            "tree-sitter-move is not installed: run contracts/move/tools/install-tree-sitter-move.sh"
        ) from exc
    with warnings.catch_warnings():
        # tree-sitter-move 0.0.2 hands the language over as an int pointer (deprecated, still works).
        warnings.simplefilter("ignore", DeprecationWarning)
        return Parser(Language(tree_sitter_move.language()))


def iter_nodes(node: Any) -> Iterator[Any]:
    """Depth-first walk over a tree-sitter node and all its descendants."""
    yield node
    for child in node.children:
        yield from iter_nodes(child)


def text(node: Any) -> str:
    """Source text of a node."""
    return node.text.decode("utf-8")


@dataclass(frozen=True)
class MoveFunction:
    """A function declaration with its modifiers and attributes."""

    module: str
    name: str
    params: tuple[tuple[str, str], ...]
    type_params: tuple[str, ...]
    modifiers: tuple[str, ...]
    attributes: dict[str, dict[str, str]]

    @property
    def is_entry(self) -> bool:
        return "entry" in self.modifiers

    @property
    def value_params(self) -> tuple[tuple[str, str], ...]:
        """Parameters without the leading ``&signer`` (the transaction sender on Aptos)."""
        if self.params and self.params[0][1] == "&signer":
            return self.params[1:]
        return self.params


@dataclass(frozen=True)
class MoveStruct:
    """A struct with its fields (name, type) and which fields lack a ``///`` doc line."""

    module: str
    name: str
    fields: tuple[tuple[str, str], ...]
    undocumented_fields: tuple[str, ...]
    attributes: dict[str, dict[str, str]]


@dataclass(frozen=True)
class MoveConst:
    """A constant; ``documented`` is True when a ``///`` line precedes it."""

    module: str
    name: str
    value: str
    documented: bool


@dataclass
class MovePackage:
    """What the structural checks need from the Move sources."""

    files: dict[Path, Any] = field(default_factory=dict)
    functions: list[MoveFunction] = field(default_factory=list)
    structs: list[MoveStruct] = field(default_factory=list)
    consts: list[MoveConst] = field(default_factory=list)
    # error constant name -> std::error categories it is raised with
    abort_categories: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # every `module::function` name called anywhere (tests included)
    calls: set[str] = field(default_factory=set)

    def module_functions(self, module: str) -> list[MoveFunction]:
        return [f for f in self.functions if f.module == module]


def _attributes(decl: Any) -> dict[str, dict[str, str]]:
    """``#[test(a = @0x1)] #[view]`` -> {"test": {"a": "@0x1"}, "view": {}}."""
    found: dict[str, dict[str, str]] = {}
    for attrs in (c for c in decl.children if c.type == "attributes"):
        for attr in (c for c in attrs.children if c.type == "attribute"):
            name = text(attr.child_by_field_name("attr_path"))
            args = {}
            for arg in (c for c in attr.children if c.type == "attribute"):
                value = arg.child_by_field_name("value")
                args[text(arg.child_by_field_name("attr_path"))] = text(value) if value else ""
            found[name] = args
    return found


def _type_text(node: Any) -> str:
    return "".join(text(node).split())


def _is_doc(node: Any) -> bool:
    return node is not None and node.type == "line_comment" and text(node).startswith("///")


def _read_function(module: str, decl: Any, fn: Any) -> MoveFunction:
    params = []
    for param in (c for c in fn.child_by_field_name("parameters").children if c.type == "parameter"):
        type_node = next(c for c in param.children if c.type == "type")
        params.append((text(param.child_by_field_name("variable")), _type_text(type_node)))
    type_params_node = fn.child_by_field_name("type_parameters")
    type_params = ()
    if type_params_node is not None:
        type_params = tuple(text(c) for c in type_params_node.children if c.type == "type_param")
    modifiers = tuple(text(c) for c in decl.children if c.type == "module_member_modifier")
    return MoveFunction(
        module, text(fn.child_by_field_name("name")), tuple(params), type_params, modifiers, _attributes(decl)
    )


def _read_struct(module: str, decl: Any, struct: Any) -> MoveStruct:
    fields, undocumented = [], []
    body = next((c for c in struct.children if c.type == "body"), None)
    for node in body.children if body is not None else ():
        if node.type != "field_annot":
            continue
        name = text(node.child_by_field_name("field"))
        type_node = next(c for c in node.children if c.type == "type")
        fields.append((name, _type_text(type_node)))
        if not _is_doc(node.prev_named_sibling):
            undocumented.append(name)
    return MoveStruct(
        module,
        text(struct.child_by_field_name("name")),
        tuple(fields),
        tuple(undocumented),
        _attributes(decl),
    )


def _read_declaration(package: MovePackage, module: str, decl: Any) -> None:
    for child in decl.children:
        if child.type == "function_decl":
            package.functions.append(_read_function(module, decl, child))
        elif child.type == "struct_decl":
            package.structs.append(_read_struct(module, decl, child))
        elif child.type == "constant_decl":
            name = text(child.child_by_field_name("name"))
            value = text(child.child_by_field_name("value"))
            package.consts.append(MoveConst(module, name, value, _is_doc(decl.prev_named_sibling)))


def _read_calls(package: MovePackage, root: Any) -> None:
    for node in iter_nodes(root):
        if node.type != "call_expr":
            continue
        func = text(node.child_by_field_name("func_name"))
        package.calls.add(func)
        args = node.child_by_field_name("arguments")
        # Arguments hide behind an anonymous `expr_term` node in this grammar; match the text.
        match = _ERROR_ARG.fullmatch(text(args)) if args is not None else None
        if func.startswith("error::") and match:
            package.abort_categories[match.group(1)].add(func.removeprefix("error::"))


def read_package(move_dir: Path = MOVE_DIR) -> MovePackage:
    """Parse every ``.move`` file under ``move_dir`` (sources and tests)."""
    parser = move_parser()
    package = MovePackage()
    for path in sorted(move_dir.rglob("*.move")):
        tree = parser.parse(path.read_bytes())
        package.files[path] = tree
        for module in (n for n in tree.root_node.children if n.type == "module"):
            name = text(module.child_by_field_name("name"))
            for decl in (c for c in module.children if c.type == "declaration"):
                _read_declaration(package, name, decl)
        _read_calls(package, tree.root_node)
    return package


def move_int(literal: str) -> int:
    """A Move integer literal (``0x1_0001``, ``5u64``) as an int."""
    digits = literal.replace("_", "")
    for suffix in ("u256", "u128", "u64", "u32", "u16", "u8"):
        digits = digits.removesuffix(suffix)
    return int(digits, 0)
