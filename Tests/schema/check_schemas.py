#!/usr/bin/env python3
"""Validates YAML documents against intops' JSON Schemas, as an editor's YAML language server would.

  check_schemas.py examples DIR        every YAML document under DIR against the schema its kind names;
                                       exits 1 and lists the failures when any document does not conform
  check_schemas.py classify FILE...    prints a JSON object {FILE: true|false}: whether each file's single
                                       document conforms to the schema of its kind

Scalars resolve by the YAML 1.2 core schema (as intops and yaml-language-server do), not PyYAML's YAML 1.1
defaults, so `on` and `yes` stay strings.
"""
import json
import pathlib
import re
import sys

import yaml
from jsonschema import Draft202012Validator

SCHEMAS = pathlib.Path(__file__).resolve().parents[2] / "schemas"


class CoreLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalar resolution."""


CoreLoader.yaml_implicit_resolvers = {}
for tag, pattern, first in [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
     "-+0123456789."),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
]:
    CoreLoader.add_implicit_resolver(tag, re.compile(pattern), list(first))


def construct_core_int(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


def construct_core_bool(loader, node):
    return loader.construct_scalar(node).lower() == "true"


CoreLoader.add_constructor("tag:yaml.org,2002:int", construct_core_int)
CoreLoader.add_constructor("tag:yaml.org,2002:bool", construct_core_bool)


def validators():
    result = {}
    for kind, name in [("Project", "project.schema.json"), ("IntegrationSet", "integration-set.schema.json")]:
        schema = json.loads((SCHEMAS / name).read_text())
        Draft202012Validator.check_schema(schema)
        result[kind] = Draft202012Validator(schema)
    return result


def errors_of(document, validators):
    kind = document.get("kind") if isinstance(document, dict) else None
    validator = validators.get(kind)
    if validator is None:
        return ["kind %r has no schema" % (kind,)]
    return ["%s: %s" % ("/".join(map(str, e.absolute_path)) or "(root)", e.message)
            for e in validator.iter_errors(document)]


def main(argv):
    if len(argv) < 2 or argv[0] not in ("examples", "classify"):
        print(__doc__, file=sys.stderr)
        return 64
    checkers = validators()
    if argv[0] == "examples":
        failures, count = [], 0
        for path in sorted(pathlib.Path(argv[1]).rglob("*.y*ml")):
            if any(part.startswith(".") for part in path.relative_to(argv[1]).parts) or "ci" in path.parts:
                continue
            if path.name.endswith(".enc.yaml"):
                continue
            for document in yaml.load_all(path.read_text(), Loader=CoreLoader):
                if document is None:
                    continue
                count += 1
                failures += ["%s: %s" % (path, e) for e in errors_of(document, checkers)]
        for failure in failures:
            print(failure)
        print("%d documents checked, %d problems" % (count, len(failures)))
        return 1 if failures or count == 0 else 0
    verdicts = {}
    for name in argv[1:]:
        try:
            documents = [d for d in yaml.load_all(pathlib.Path(name).read_text(), Loader=CoreLoader) if d is not None]
            verdicts[name] = len(documents) == 1 and not errors_of(documents[0], checkers)
        except yaml.YAMLError:
            verdicts[name] = False
    print(json.dumps(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
