#!/usr/bin/env bash
# BottleCRM (the self-hosted CRM the write-back tests run against), installed beside LeadOps, never in it:
# its own venv at .bottlecrm/venv on Python 3.12 (it needs >= 3.12; LeadOps is on 3.11), and its own
# generic top-level packages (`accounts`, `leads`, `crm`) stay out of our venv.
#
# Also builds the template database once: BottleCRM's `migrate` takes ~150 s, so every server starts from
# a copy of one migrated SQLite file (gzipped, ~100 KB), rebuilt only when the pinned versions change.
#
# Idempotent: a second run with nothing to do takes well under a second. Safe to run concurrently (flock).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tools/bottlecrm"
HOME_DIR="${BOTTLECRM_HOME:-$ROOT/.bottlecrm}"
VENV="$HOME_DIR/venv"
REQUIREMENTS="$HERE/requirements.txt"

mkdir -p "$HOME_DIR"
exec 9>"$HOME_DIR/.setup.lock"
flock 9

# Installed versions and template are keyed by the pins: a new pin rebuilds both.
PINS="$(sha256sum "$REQUIREMENTS" | cut -c1-12)"
TEMPLATE="$HOME_DIR/template-$PINS.sqlite.gz"

find_python312() {
    local root candidate
    if command -v pyenv >/dev/null 2>&1 && root="$(pyenv root 2>/dev/null)"; then
        for candidate in $(ls -d "$root"/versions/3.12.*/bin/python 2>/dev/null | sort -V -r); do
            if [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
        done
    fi
    for candidate in python3.12; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
            command -v "$candidate"; return 0
        fi
    done
    return 1
}

if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$PINS" ]; then
    PYTHON312="$(find_python312)" || {
        echo "bottlecrm setup: BottleCRM needs Python 3.12; found none (looked in \`pyenv root\`/versions/3.12.*" \
             "and for python3.12 on PATH). Install one, e.g. \`pyenv install 3.12\`." >&2
        exit 1
    }
    echo "bottlecrm setup: installing $(tr '\n' ' ' <"$REQUIREMENTS")into $VENV with $PYTHON312" >&2
    rm -rf "$VENV"
    "$PYTHON312" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$PINS" >"$VENV/.installed"
fi

if [ ! -f "$TEMPLATE" ]; then
    echo "bottlecrm setup: migrating the template database (about 150 s, once per pinned version)" >&2
    WORK="$(mktemp -d "$HOME_DIR/template.XXXXXX")"
    trap 'rm -rf "$WORK"' EXIT
    (
        cd "$WORK"
        export PYTHONPATH="$HERE" DJANGO_SETTINGS_MODULE=leadops_settings
        export BOTTLECRM_DB="$WORK/crm.sqlite" BOTTLECRM_LOG_DIR="$WORK"
        "$VENV/bin/django-admin" migrate --noinput >"$WORK/migrate.log" 2>&1 || {
            cat "$WORK/migrate.log" >&2; exit 1; }
        # Fold the WAL into the file, so the one file is the whole database.
        "$VENV/bin/python" -c 'import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
con.execute("PRAGMA journal_mode=DELETE")
con.execute("VACUUM")
con.close()' "$WORK/crm.sqlite"
        gzip -9 -n -c "$WORK/crm.sqlite" >"$WORK/template.sqlite.gz"
    )
    mv "$WORK/template.sqlite.gz" "$TEMPLATE"
    # Templates of older pins are dead weight.
    find "$HOME_DIR" -maxdepth 1 -name 'template-*.sqlite.gz' ! -name "$(basename "$TEMPLATE")" -delete
fi

echo "$TEMPLATE"
