"""Read template.yaml and evaluate the intrinsic functions the provisioner needs.

Enough CloudFormation for the tests: Ref, Fn::Sub (both forms), Fn::GetAtt, Fn::If,
Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::FindInMap, Fn::Join, Fn::Select, Fn::Split,
and the rule functions Fn::Contains and Fn::EachMemberEquals. Resources resolve to what
the provisioner made (``physical`` names and ``attributes``).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

ACCOUNT = "123456789012"
REGION = "us-east-1"


def load_packaging() -> ModuleType:
    """packaging/package.py, the Lambda artefacts' builder (a script, not an installed module)."""
    name = "imgflow_packaging"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "packaging" / "package.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data; CFN short tags (!Ref, !Sub, ...) become their long forms."""
    data = yaml_parse(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@dataclass
class Evaluator:
    template: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)
    stack_name: str = "imgflow-test"
    stack_guid: str = "51af3dc0-da77-11e4-872e-1234567db123"
    #: logical id -> what Ref gives (a name, a URL)
    physical: dict[str, str] = field(default_factory=dict)
    #: (logical id, attribute) -> value
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values: dict[str, str] = {}
        for name, spec in self.template.get("Parameters", {}).items():
            default = spec.get("Default")
            values[name] = str(default) if default is not None else ""
        values.update(self.parameters)
        self.parameters = values
        self.conditions = {name: bool(self.eval(expr)) for name, expr in self.template.get("Conditions", {}).items()}

    def pseudo(self, name: str) -> str:
        return {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{self.stack_name}/{self.stack_guid}",
            "AWS::URLSuffix": "amazonaws.com",
        }[name]

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            spec = self.template["Parameters"][name]
            if spec.get("Type") == "CommaDelimitedList":
                return [p.strip() for p in self.parameters[name].split(",")]
            return self.parameters[name]
        return self.physical[name]

    def getatt(self, logical: str, attribute: str) -> str:
        return self.attributes[(logical, attribute)]

    def sub(self, text: str, variables: dict[str, Any] | None = None) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if variables and name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return self.getatt(logical, attribute)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def eval(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.eval(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    text, variables = arg
                    return self.sub(text, {k: self.eval(v) for k, v in variables.items()})
                return self.sub(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.getatt(logical, attribute)
            if key == "Fn::If":
                name, yes, no = arg
                return self.eval(yes if self.conditions[name] else no)
            if key == "Fn::Equals":
                return self.eval(arg[0]) == self.eval(arg[1])
            if key == "Fn::Not":
                return not self.eval(arg[0])
            if key == "Fn::And":
                return all(self.eval(a) for a in arg)
            if key == "Fn::Or":
                return any(self.eval(a) for a in arg)
            if key == "Fn::Contains":
                return self.eval(arg[1]) in self.eval(arg[0])
            if key == "Fn::EachMemberEquals":
                return all(v == self.eval(arg[1]) for v in self.eval(arg[0]))
            if key == "Fn::Select":
                return self.eval(arg[1])[int(arg[0])]
            if key == "Fn::Split":
                return str(self.eval(arg[1])).split(arg[0])
            if key == "Fn::FindInMap":
                table, top, second = (self.eval(a) for a in arg)
                return self.template["Mappings"][table][str(top)][second]
            if key == "Fn::Join":
                return str(arg[0]).join(str(v) for v in self.eval(arg[1]))
        return {k: v for k, v in ((k, self.eval(v)) for k, v in node.items()) if v is not NO_VALUE}

    def resources(self, type_name: str) -> dict[str, dict[str, Any]]:
        """Logical id -> resource, for the resources of a type whose condition holds."""
        found = {}
        for logical, resource in self.template["Resources"].items():
            if resource["Type"] != type_name:
                continue
            condition = resource.get("Condition")
            if condition is None or self.conditions[condition]:
                found[logical] = resource
        return found
