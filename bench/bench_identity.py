"""Identity benchmark: 1,000 new leads scored against N existing records, and a full dedupe of N records.

    nice -n 10 .venv/bin/python bench/bench_identity.py --records 100000 \
        --out bench/results/identity-100k.json
    nice -n 10 .venv/bin/python bench/bench_identity.py --records 1000000 \
        --out bench/results/identity-1m.json

Targets: 1k vs 1M <= 30 s; full dedupe of 1M <= 5 min; peak RSS <= 4 GB. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assets.identity.generator import GeneratorConfig, generate_identity_dataset
from assets.identity.guards import check_auto_link_share, check_largest_cluster
from assets.identity.scoring import dedupe_people, score_people

NEW_LEADS = 1_000
# Records per generated person: 1.59 submissions on average plus 0.21 CRM contacts (measured, seed 3).
RECORDS_PER_PERSON = 1.8


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="existing records N")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--skip-dedupe", action="store_true")
    parser.add_argument("--out", type=Path, help="also write the JSON result to this file")
    args = parser.parse_args()

    started = time.perf_counter()
    n_people = int((args.records + NEW_LEADS) / RECORDS_PER_PERSON) + 1
    dataset = generate_identity_dataset(
        GeneratorConfig(n_people=n_people, n_accounts=max(n_people // 10, 1), seed=args.seed)
    )
    people = dataset.people()
    existing = people.iloc[: args.records]
    new = dataset.leads.iloc[-NEW_LEADS:]
    existing = existing[~existing["record_id"].isin(new["record_id"])]
    generated_s = time.perf_counter() - started

    started = time.perf_counter()
    scores = score_people(new, existing)
    score_s = time.perf_counter() - started
    result: dict[str, object] = {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "existing_records": len(existing),
        "new_records": len(new),
        "generate_s": round(generated_s, 1),
        "score_1k_s": round(score_s, 2),
        "score_1k_decisions": scores["decision"].value_counts().to_dict(),
        "auto_link_share_guard": check_auto_link_share(scores).model_dump(),
        "peak_rss_after_score_mb": round(peak_rss_mb()),
    }
    if not args.skip_dedupe:
        started = time.perf_counter()
        pairs, clusters = dedupe_people(existing)
        result["dedupe_s"] = round(time.perf_counter() - started, 1)
        result["dedupe_pairs_ge_0_95"] = len(pairs)
        result["dedupe_clusters"] = int(clusters["cluster_id"].nunique())
        result["largest_cluster_guard"] = check_largest_cluster(
            clusters, cluster_column="cluster_id"
        ).model_dump()
    result["peak_rss_mb"] = round(peak_rss_mb())
    result["command"] = " ".join(["python", *sys.argv])
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
