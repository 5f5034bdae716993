"""The accounts and regions of the cluster tests: one catalog each, other accounts reached
through sts:AssumeRole (moto keeps accounts apart by the credentials it hands out)."""

from __future__ import annotations

import boto3

# (catalog, region, account id of the role to assume; None: moto's own credentials).
CATALOGS = [
    ("own_us", "us-east-1", None),
    ("own_eu", "eu-west-1", None),
    ("a1_us", "us-east-1", "111111111111"),
    ("a1_eu", "eu-west-1", "111111111111"),
    ("a2_us", "us-east-1", "222222222222"),
    ("a3_eu", "eu-west-1", "333333333333"),
    ("a4_us", "us-east-1", "444444444444"),
    ("a4_ap", "ap-southeast-2", "444444444444"),
]


def role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/LogReader"


def credentials(endpoint: str, account: str | None) -> dict | None:
    if account is None:
        return None
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    c = sts.assume_role(RoleArn=role(account), RoleSessionName="loader")["Credentials"]
    return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"]}


def config_text(endpoint: str, nodes: list[str] | None = None) -> str:
    text = f'endpoint_url = "{endpoint}"\nregion = "us-east-1"\n'
    for name, region, account in CATALOGS:
        text += f'\n[[catalogs]]\nname = "{name}"\nregion = "{region}"\n'
        if account:
            text += f'role_arn = "{role(account)}"\n'
    if nodes:
        text += "\n[cluster]\nnodes = [" + ", ".join(f'"{n}"' for n in nodes) + "]\n"
    return text
