from __future__ import annotations

import pytest

from assets.identity.generator import GeneratorConfig, IdentityDataset, generate_identity_dataset


@pytest.fixture(scope="session")
def identity_dataset() -> IdentityDataset:
    """A small labeled world (seed unseen by the shipped models)."""
    return generate_identity_dataset(GeneratorConfig(n_people=800, n_accounts=160, seed=101))
