"""The terraform/ tree as data: every module's declarations and the references it makes.

There is no terraform binary here, so the tests read the HCL with python-hcl2 and check
what ``terraform validate`` would (names declared, arguments passed, outputs present)
plus what only this project knows (commands and settings of the containers).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
# Arguments of a module block that are not input variables.
MODULE_META_ARGUMENTS = {"source", "depends_on", "count", "for_each", "providers", "version"}

_VAR = re.compile(r"\bvar\.([A-Za-z_][\w-]*)")
_LOCAL = re.compile(r"\blocal\.([A-Za-z_][\w-]*)")
_MODULE_OUTPUT = re.compile(r"\bmodule\.([A-Za-z_][\w-]*)\.([A-Za-z_][\w-]*)")
_DATA = re.compile(r"\bdata\.([a-z][\w]*)\.([A-Za-z_][\w-]*)")
_RESOURCE = re.compile(r"(?<![\w.])((?:aws|random)_[a-z0-9_]+)\.([A-Za-z_][\w-]*)")


def load_hcl(path: Path) -> dict[str, Any]:
    # Imported here: python-hcl2 (and parsing the tree) is for the tests that read it,
    # not for every xdist worker's collection.
    import hcl2
    from hcl2.utils import SerializationOptions

    options = SerializationOptions(
        with_comments=False, explicit_blocks=False, strip_string_quotes=True
    )
    with path.open() as handle:
        return hcl2.load(handle, serialization_options=options)


def strings(value: Any) -> Iterator[str]:
    """Every string in a parsed HCL value (interpolations are "${...}" strings)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def _named(blocks: list[dict]) -> dict[str, Any]:
    return {name: body for block in blocks for name, body in block.items()}


def _typed(blocks: list[dict]) -> dict[tuple[str, str], Any]:
    return {
        (kind, name): body
        for block in blocks
        for kind, named in block.items()
        for name, body in named.items()
    }


@dataclass
class Module:
    """One directory of .tf files."""

    path: Path
    variables: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    module_calls: dict[str, Any] = field(default_factory=dict)
    resources: dict[tuple[str, str], Any] = field(default_factory=dict)
    data: dict[tuple[str, str], Any] = field(default_factory=dict)
    terraform: list[dict] = field(default_factory=list)
    providers: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.path.relative_to(TERRAFORM))

    def body_strings(self) -> list[str]:
        """Strings of everything except the declarations of variables themselves."""
        parts: list[Any] = [
            self.outputs,
            self.locals,
            self.module_calls,
            list(self.resources.values()),
            list(self.data.values()),
            self.providers,
        ]
        # Variable validations refer to the variable itself.
        parts += [body.get("validation", []) for body in self.variables.values()]
        return [text for part in parts for text in strings(part)]

    def references(self, pattern: re.Pattern[str]) -> set:
        found: set = set()
        for text in self.body_strings():
            for match in pattern.finditer(text):
                found.add(match.groups() if pattern.groups > 1 else match.group(1))
        return found

    def called_module(self, call: str) -> Module:
        source = self.module_calls[call]["source"]
        return modules()[str((self.path / source).resolve().relative_to(TERRAFORM))]

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        return self.resources[(kind, name)]

    def resources_of(self, kind: str) -> list[dict[str, Any]]:
        return [body for (each, _), body in self.resources.items() if each == kind]


def _load_module(path: Path) -> Module:
    module = Module(path=path)
    for tf in sorted(path.glob("*.tf")):
        parsed = load_hcl(tf)
        module.variables.update(_named(parsed.get("variable", [])))
        module.outputs.update(_named(parsed.get("output", [])))
        for block in parsed.get("locals", []):
            module.locals.update(block)
        module.module_calls.update(_named(parsed.get("module", [])))
        module.resources.update(_typed(parsed.get("resource", [])))
        module.data.update(_typed(parsed.get("data", [])))
        module.terraform += parsed.get("terraform", [])
        module.providers += parsed.get("provider", [])
    return module


def _module_directories() -> list[Path]:
    return sorted({tf.parent for tf in TERRAFORM.rglob("*.tf")})


def module_names() -> list[str]:
    """The names ``modules()`` has, without parsing a file (for parametrizing tests at
    collection: parsing the tree takes seconds, and most xdist workers never use it)."""
    return [str(d.relative_to(TERRAFORM)) for d in _module_directories()]


@cache
def modules() -> dict[str, Module]:
    """Every directory holding .tf files, by path relative to terraform/."""
    return {str(d.relative_to(TERRAFORM)): _load_module(d) for d in _module_directories()}


def environments() -> dict[str, Module]:
    return {
        name.split("/")[-1]: module
        for name, module in modules().items()
        if name.startswith("environments/")
    }


def module(name: str) -> Module:
    return modules()[f"modules/{name}"]


def interpolation(value: str) -> str:
    """The expression inside a whole-string "${...}"."""
    assert value.startswith("${") and value.endswith("}"), value
    return value[2:-1]
