#!/usr/bin/env bash
# The deployment files checked offline (`make deploy-check`, part of `make test`):
# Kubernetes manifests against the API's schemas (kubernetes-validate, strict), the
# manifests and both Containerfiles for insecure settings (checkov; a skip is allowed
# only as an annotation that says why), and the Prometheus configuration's syntax.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=${DEPLOY_TOOLS:-.venv-deploy/bin}
export BC_SKIP_MAPPING=TRUE  # checkov: no download of Bridgecrew's guideline mapping

"$TOOLS/kubernetes-validate" --strict --quiet deploy/kubernetes/*.yaml
"$TOOLS/checkov" -d deploy/kubernetes --framework kubernetes --quiet --compact --skip-download

# checkov knows Dockerfiles by name only: each Containerfile is checked as one.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for file in Containerfile deploy/pgbouncer/Containerfile; do
    mkdir -p "$scratch/$file" && cp "$file" "$scratch/$file/Dockerfile"
done
"$TOOLS/checkov" -d "$scratch" --framework dockerfile --quiet --compact --skip-download

promtool check config --syntax-only deploy/prometheus/prometheus.yml
