"""A short, stable fingerprint of the routing policy in force, stamped on every state transition.

It hashes the contents (not the mtimes) of the policy seeds, the shared seeds, the SQL and the dbt tests, so
two machines running the same commit and policy folder log the same version, and any analyst edit changes
it. The dbt step also uses it to skip re-seeding when nothing about the rules changed.
"""

import hashlib
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

_RULE_FOLDERS = ("seeds", "models", "macros", "tests")


def rules_version(dbt_project_dir: Path, policy_dir: str) -> str:
    digest = hashlib.sha256()
    policy_path = Path(policy_dir)
    if not policy_path.is_absolute():
        policy_path = dbt_project_dir / policy_path
    digest.update((dbt_project_dir / "dbt_project.yml").read_bytes())
    roots = [dbt_project_dir / folder for folder in _RULE_FOLDERS] + [policy_path]
    for root in roots:
        if not root.exists():
            continue
        for path in sorted(
            p for p in root.rglob("*") if p.is_file() and p.suffix in {".sql", ".csv", ".yml"}
        ):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class RulesResource(ConfigurableResource):
    """The routing policy in force: the dbt project and the policy folder it reads its seeds from."""

    dbt_project_dir: str = Field(description="Absolute path of the dbt project.")
    policy_dir: str = Field(description="Policy folder, relative to the dbt project or absolute.")

    def version(self) -> str:
        return rules_version(Path(self.dbt_project_dir), self.policy_dir)
