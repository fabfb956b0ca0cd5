"""Read a synthesized template as AWS would deploy it: fake physical ids, real policies.

Intrinsic functions resolve to stable made-up values (one account, one region), the
same everywhere, so a function's environment and its role's policies can be compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
PSEUDO_PARAMETERS = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": PARTITION,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "UsersService",
}


class TemplateResolver:
    """Resolve Ref, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split and Fn::Sub to strings."""

    def __init__(self, template: Mapping[str, Any], names: Mapping[str, str] | None = None):
        self.template = template
        self.resources: Mapping[str, Any] = template["Resources"]
        # Physical names a test wants for some resources (the bucket moto serves).
        self._names = dict(names or {})

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (function, argument), *_ = value.items()
            if function == "Ref":
                return self.ref(argument)
            if function == "Fn::GetAtt":
                logical_id, attribute = (
                    argument if isinstance(argument, list) else argument.split(".", 1)
                )
                return self.get_att(logical_id, attribute)
            if function == "Fn::Join":
                separator, parts = argument
                return str(separator).join(str(self.resolve(p)) for p in parts)
            if function == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(index)]
            if function == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(separator)
            if function == "Fn::Sub":
                return self._sub(argument)
            if function.startswith("Fn::"):
                raise NotImplementedError(f"{function} in {value}")
        return {key: self.resolve(item) for key, item in value.items()}

    def resource_type(self, logical_id: str) -> str:
        return str(self.resources[logical_id]["Type"])

    def ref(self, logical_id: str) -> str:
        if logical_id in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[logical_id]
        if logical_id in self.template.get("Parameters", {}):
            return str(self.template["Parameters"][logical_id].get("Default", logical_id))
        kind = self.resource_type(logical_id)
        properties = self.resources[logical_id].get("Properties", {})
        if kind == "AWS::S3::Bucket":
            return self._names.get(logical_id, logical_id.lower())
        if kind == "AWS::SecretsManager::Secret":
            return f"arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret:{logical_id}-AbCdEf"
        if kind == "AWS::SecretsManager::SecretTargetAttachment":
            return str(self.resolve(properties["SecretId"]))  # its Ref is the secret's ARN
        return self._names.get(logical_id, logical_id)

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.resource_type(logical_id)
        name = self.ref(logical_id)
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:{PARTITION}:s3:::{name}"
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}"
        if kind == "AWS::RDS::DBProxy":
            if attribute == "DBProxyArn":
                return f"arn:{PARTITION}:rds:{REGION}:{ACCOUNT}:db-proxy:prx-{logical_id.lower()}"
            if attribute == "Endpoint":
                return f"{logical_id.lower()}.proxy-fake.{REGION}.rds.amazonaws.com"
        if kind == "AWS::RDS::DBInstance":
            if attribute == "DbiResourceId":
                return f"db-{logical_id.upper()}"
            if attribute == "Endpoint.Address":
                return f"{logical_id.lower()}.fake.{REGION}.rds.amazonaws.com"
            if attribute == "Endpoint.Port":
                return "5432"
        if kind == "AWS::Cognito::UserPool" and attribute == "Arn":
            return f"arn:{PARTITION}:cognito-idp:{REGION}:{ACCOUNT}:userpool/{name}"
        if attribute == "Arn":
            service = kind.split("::")[1].lower()
            return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{logical_id}"
        return f"{logical_id}.{attribute}"

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        out = str(text)
        for name, value in variables.items():
            out = out.replace("${" + name + "}", str(self.resolve(value)))
        while "${" in out:
            start = out.index("${")
            end = out.index("}", start)
            name = out[start + 2 : end]
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                value = self.get_att(logical_id, attribute)
            else:
                value = self.ref(name)
            out = out[:start] + value + out[end + 1 :]
        return out


@dataclass(frozen=True)
class FunctionRole:
    """A Lambda function of the template, its environment and its role's statements."""

    logical_id: str
    handler: str
    role_arn: str
    environment: Mapping[str, str]
    raw_environment: Mapping[str, Any]
    statements: list[dict[str, Any]]


def function_roles(resolver: TemplateResolver) -> list[FunctionRole]:
    """Every Lambda function with the inline and template-managed policies of its role.

    AWS-managed policies (basic and VPC execution) are left out: they grant only logs
    and network interfaces, never S3, Secrets Manager or rds-db.
    """
    functions = []
    for logical_id, resource in resolver.resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        role = properties["Role"]
        role_id = role["Fn::GetAtt"][0]
        raw_environment = properties.get("Environment", {}).get("Variables", {})
        functions.append(
            FunctionRole(
                logical_id=logical_id,
                handler=str(properties.get("Handler", "")),
                role_arn=resolver.get_att(role_id, "Arn"),
                environment={k: str(resolver.resolve(v)) for k, v in raw_environment.items()},
                raw_environment=raw_environment,
                statements=_role_statements(resolver, role_id),
            )
        )
    return functions


def _role_statements(resolver: TemplateResolver, role_id: str) -> list[dict[str, Any]]:
    role = resolver.resources[role_id]["Properties"]
    documents = [policy["PolicyDocument"] for policy in role.get("Policies", [])]
    for resource in resolver.resources.values():
        attached = resource.get("Properties", {}).get("Roles", [])
        is_policy = resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}
        if is_policy and {"Ref": role_id} in attached:
            documents.append(resource["Properties"]["PolicyDocument"])
    for managed in role.get("ManagedPolicyArns", []):
        if isinstance(managed, dict) and "Ref" in managed:
            documents.append(resolver.resources[managed["Ref"]]["Properties"]["PolicyDocument"])
    statements: list[dict[str, Any]] = []
    for document in documents:
        statements.extend(_as_statements(resolver.resolve(document)))
    return statements


def resource_statements(resolver: TemplateResolver, resource_arn: str) -> list[dict[str, Any]]:
    """Statements of the bucket policies and secret policies that govern `resource_arn`."""
    statements: list[dict[str, Any]] = []
    for resource in resolver.resources.values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::S3::BucketPolicy":
            bucket_arn = f"arn:{PARTITION}:s3:::{resolver.resolve(properties['Bucket'])}"
            if resource_arn == bucket_arn or resource_arn.startswith(f"{bucket_arn}/"):
                statements.extend(_as_statements(resolver.resolve(properties["PolicyDocument"])))
        if (
            resource["Type"] == "AWS::SecretsManager::ResourcePolicy"
            and resolver.resolve(properties["SecretId"]) == resource_arn
        ):
            statements.extend(_as_statements(resolver.resolve(properties["ResourcePolicy"])))
    return statements


def secret_arns(resolver: TemplateResolver) -> list[str]:
    """ARNs of every Secrets Manager secret of the template."""
    return [
        resolver.ref(logical_id)
        for logical_id, resource in resolver.resources.items()
        if resource["Type"] == "AWS::SecretsManager::Secret"
    ]


def _as_statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    statement = document["Statement"]
    return list(statement) if isinstance(statement, list) else [statement]
