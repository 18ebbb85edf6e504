"""The on-demand training asset: retrain the person and account models and show them in the UI.

No `from __future__ import annotations` here: Dagster reads the config annotation at definition time.
"""

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from assets.identity.generator import GeneratorConfig, generate_identity_dataset
from assets.identity.splink_models import MODEL_DIR, training_info_path
from assets.identity.training import (
    DEFAULT_SEED,
    DEFAULT_U_MAX_PAIRS,
    TrainingResult,
    train_account_model,
    train_person_model,
)

TRAINED_MODELS_KEY = AssetKey(["identity", "trained_models"])
IDENTITY_TRAINING_GROUP = "identity_training"


class IdentityTrainingConfig(Config):
    """Defaults reproduce `python -m assets.identity.training` exactly (same seed, sizes, output)."""

    output_dir: str = Field(
        str(MODEL_DIR), description="where model JSON (and charts/) are written; default: the package"
    )
    seed: int = Field(DEFAULT_SEED, description="generator and u-sampling seed")
    n_people: int = Field(GeneratorConfig().n_people, ge=50, description="generated people")
    n_accounts: int = Field(GeneratorConfig().n_accounts, ge=10, description="generated CRM accounts")
    u_max_pairs: float = Field(DEFAULT_U_MAX_PAIRS, gt=0, description="pairs sampled to estimate u")


def model_version(model_path: Path) -> str:
    """sha256 of the model JSON: the version stamped on every decision the model makes."""
    return hashlib.sha256(model_path.read_bytes()).hexdigest()


def _version_or_none(model_path: Path) -> str | None:
    return model_version(model_path) if model_path.is_file() else None


def match_weights_markdown(model: dict[str, Any]) -> str:
    """One row per comparison level: m, u and the match weight log2(m/u) in bits."""
    prior = model["probability_two_random_records_match"]
    lines = [
        f"prior (two random records match): {prior:.6g} = {math.log2(prior / (1 - prior)):+.2f} bits",
        "",
        "| comparison | level | m | u | weight (bits) |",
        "|---|---|---|---|---|",
    ]
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            label = level.get("label_for_charts") or level["sql_condition"]
            if level.get("is_null_level"):
                lines.append(f"| {comparison['output_column_name']} | {label} | null level | | 0 |")
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = f"{math.log2(m / u):+.2f}" if m and u else "n/a"
            m_text = f"{m:.4g}" if m is not None else "n/a"
            u_text = f"{u:.4g}" if u is not None else "n/a"
            lines.append(f"| {comparison['output_column_name']} | {label} | {m_text} | {u_text} | {weight} |")
    return "\n".join(lines)


def _model_metadata(name: str, result: TrainingResult, previous_version: str | None) -> dict[str, Any]:
    model = json.loads(result.model_path.read_text(encoding="utf-8"))
    version = model_version(result.model_path)
    metadata: dict[str, Any] = {
        f"{name}_model_path": MetadataValue.path(str(result.model_path)),
        f"{name}_model_version": MetadataValue.text(version),
        f"{name}_model_changed": MetadataValue.bool(version != previous_version),
        f"{name}_training_records": MetadataValue.int(result.training_records),
        f"{name}_match_weights": MetadataValue.md(match_weights_markdown(model)),
    }
    for chart in result.charts:
        metadata[f"{name}_chart_{chart.stem.removeprefix(f'{name}_')}"] = MetadataValue.url(chart.as_uri())
    return metadata


@asset(
    key=TRAINED_MODELS_KEY,
    group_name=IDENTITY_TRAINING_GROUP,
    kinds={"python", "splink"},
    description=(
        "Retrains the splink person and account models on the seeded labelled generator and writes the "
        "model JSON + charts. Run on demand only (job train_identity_models), never scheduled."
    ),
)
def identity_trained_models(
    context: AssetExecutionContext, config: IdentityTrainingConfig
) -> MaterializeResult:
    """Retrain both identity models with the same code as `python -m assets.identity.training`.

    Trains on the seeded labelled generator, not on the warehouse, because:
    - the models are versioned artefacts reviewed in git; the same seed must reproduce the same bytes
      (training is deterministic: checked by tests/identity/test_identity_training.py), which data
      that changes every run cannot give;
    - the warehouse carries no truth labels, so a model trained there cannot be checked before it goes
      live, while the generator's truth feeds `leadops eval identity` right after training;
    - the warehouse has one writer (the pipeline run) and this asset never opens it, read-only or not,
      so it can run while the pipeline does.
    The generator's error rates are stated guesses (generator.GeneratorConfig); retraining on real CRM
    data is a later step once labelled outcomes exist.

    Writes `<output_dir>/person_model.json`, `person_model.training.json` (training record count, for
    the population-adjusted prior), `account_model.json` and `charts/*.html` (splink's match weight and
    m/u charts, self-contained). With the default output_dir that is the package's model
    folder, which scoring reads on its next call: review the diff (`*_model_changed`) and commit it.
    """
    output_dir = Path(config.output_dir)
    person_path, account_path = output_dir / "person_model.json", output_dir / "account_model.json"
    previous = {"person": _version_or_none(person_path), "account": _version_or_none(account_path)}

    dataset = generate_identity_dataset(
        GeneratorConfig(n_people=config.n_people, n_accounts=config.n_accounts, seed=config.seed)
    )
    context.log.info(
        f"training on the generator (seed {config.seed}): {len(dataset.people()):,} person records, "
        f"{len(dataset.leads):,} leads, {len(dataset.accounts):,} accounts"
    )
    person = train_person_model(
        dataset.people(), output_dir, seed=config.seed, u_max_pairs=config.u_max_pairs
    )
    account = train_account_model(dataset, output_dir, seed=config.seed, u_max_pairs=config.u_max_pairs)

    metadata: dict[str, Any] = {
        "training_data": MetadataValue.text(
            f"labelled generator, seed {config.seed}, "
            f"{config.n_people:,} people, {config.n_accounts:,} accounts"
        ),
        "output_dir": MetadataValue.path(str(output_dir)),
    }
    metadata["person_training_info_path"] = MetadataValue.path(str(training_info_path(person.model_path)))
    metadata.update(_model_metadata("person", person, previous["person"]))
    metadata.update(_model_metadata("account", account, previous["account"]))
    return MaterializeResult(metadata=metadata)
