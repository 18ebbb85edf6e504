"""Mint an org, an admin with a personal access token, and owner profiles in a fresh BottleCRM database.

Runs inside BottleCRM's own venv with `DJANGO_SETTINGS_MODULE=leadops_settings`: the first token cannot be
had through the API (every API call needs one), so it is made through BottleCRM's ORM.

stdin:  {"org": "LeadOps", "owners": [{"email": "...", "name": "...", "active": true}, ...]}
stdout: {"org_id": "...", "admin_profile_id": "...", "token": "...", "owners": {"<email>": "<profile id>"}}
"""

import json
import sys

import django


def main() -> None:
    request = json.load(sys.stdin)
    django.setup()
    from common.models import Org, PersonalAccessToken, Profile, User
    from django.db import transaction

    with transaction.atomic():
        org = Org.objects.create(name=request.get("org", "LeadOps"))
        admin_user = User.objects.create(email="crm-admin@leadops.dev", name="LeadOps")
        admin = Profile.objects.create(
            user=admin_user, org=org, role="ADMIN", is_organization_admin=True, has_sales_access=True
        )
        token, _ = PersonalAccessToken.generate(admin, "leadops")
        owners = {}
        for owner in request.get("owners", []):
            user = User.objects.create(email=owner["email"], name=owner.get("name", ""))
            profile = Profile.objects.create(
                user=user,
                org=org,
                role="USER",
                has_sales_access=True,
                is_active=bool(owner.get("active", True)),
            )
            owners[owner["email"]] = str(profile.id)
    json.dump(
        {"org_id": str(org.id), "admin_profile_id": str(admin.id), "token": token, "owners": owners},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
