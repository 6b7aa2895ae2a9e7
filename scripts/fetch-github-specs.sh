#!/usr/bin/env bash
# fetch-github-specs.sh fetches GitHub's pinned API descriptions and recorded
# webhook examples into the git-ignored cache .cache/github-specs/ at the repo
# root. internal/githubsim's contract tests read them from there.
#
# It is idempotent (a package already extracted is skipped) and exits non-zero
# when anything cannot be fetched, so CI fails instead of silently skipping.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${root}/.cache/github-specs"
mkdir -p "${cache}"

# name@version -> directory under the cache, and a file that must exist once extracted.
packages=(
  "@octokit/openapi@23.0.2|openapi-23.0.2|generated/api.github.com.json"
  "@octokit/openapi-webhooks@12.1.0|openapi-webhooks-12.1.0|generated/api.github.com.json"
  "@octokit/webhooks-examples@7.6.1|webhooks-examples-7.6.1|api.github.com/index.json"
)

for entry in "${packages[@]}"; do
  IFS='|' read -r spec dir marker <<<"${entry}"
  dest="${cache}/${dir}"
  if [[ -s "${dest}/${marker}" ]]; then
    echo "fetch-github-specs: ${spec} already present in ${dest}"
    continue
  fi
  tmp="$(mktemp -d "${cache}/.fetch.XXXXXX")"
  trap 'rm -rf "${tmp}"' EXIT
  echo "fetch-github-specs: npm pack ${spec}"
  tarball="$(cd "${tmp}" && npm pack --silent "${spec}" | tail -n 1)"
  if [[ -z "${tarball}" || ! -f "${tmp}/${tarball}" ]]; then
    echo "fetch-github-specs: npm pack ${spec} produced no tarball" >&2
    exit 1
  fi
  mkdir -p "${tmp}/x"
  tar -xzf "${tmp}/${tarball}" -C "${tmp}/x"
  if [[ ! -s "${tmp}/x/package/${marker}" ]]; then
    echo "fetch-github-specs: ${spec} has no ${marker}" >&2
    exit 1
  fi
  rm -rf "${dest}"
  mv "${tmp}/x/package" "${dest}"
  rm -rf "${tmp}"
  trap - EXIT
  echo "fetch-github-specs: ${spec} -> ${dest}"
done
