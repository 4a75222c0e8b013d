#!/usr/bin/env bash
# Install the tree-sitter-move grammar (PyPI 0.0.2) into the project virtualenv.
#
# Why from source: the 0.0.2 sdist ships a prebuilt _binding.abi3.so that does not load, so we
# download the sdist, delete that binary and let pip compile the C parser locally.
# Idempotent: exits at once when `import tree_sitter_move` already works.
# Uses $PYTHON when set, else .venv/bin/python at the repository root.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
python="${PYTHON:-$repo_root/.venv/bin/python}"

if "$python" -c "import tree_sitter_move" 2>/dev/null; then
    echo "tree-sitter-move already importable; nothing to do"
    exit 0
fi

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

"$python" -m pip download --no-deps --no-binary :all: tree-sitter-move==0.0.2 -d "$workdir"
tar -xzf "$workdir"/tree_sitter_move-0.0.2.tar.gz -C "$workdir"
rm -f "$workdir/tree_sitter_move-0.0.2/bindings/python/tree_sitter_move/_binding.abi3.so"
"$python" -m pip install "$workdir/tree_sitter_move-0.0.2"

"$python" -c "import tree_sitter_move" && echo "tree-sitter-move installed"
