#!/bin/sh
# Configures Vault or OpenBao for vault-sync-operator's kubernetes login:
#
#   1. enables a kubernetes auth method at --auth-path (unless it exists),
#   2. points it at the cluster: API server URL, its CA, and a token-reviewer
#      JWT (a service account bound to system:auth-delegator),
#   3. writes the controller's policy (policy.hcl beside this script),
#   4. writes the role, bound to the controller's service account and namespace.
#
# Needs the bao or vault CLI (VAULT_CLI to choose; otherwise bao, then vault,
# from PATH) and a Vault token allowed to do the above (VAULT_ADDR and
# VAULT_TOKEN, or BAO_ADDR and BAO_TOKEN, as the CLI reads them). No kubectl:
# every cluster input is an argument or an environment variable. Running it
# again updates everything in place.
#
# Usage: setup.sh --kubernetes-host=URL [options]
#   --kubernetes-host=URL      API server URL as Vault reaches it        (KUBERNETES_HOST)
#   --kubernetes-ca-file=FILE  PEM CA of the API server                  (KUBERNETES_CA_FILE)
#   --reviewer-jwt-file=FILE   token-reviewer JWT                        (REVIEWER_JWT_FILE)
#                              or the JWT itself in REVIEWER_JWT (never as an argument:
#                              arguments are visible to every user of the machine).
#                              Without one, Vault uses its own service-account
#                              token when it runs in a pod of this cluster, and
#                              otherwise the logging-in token itself (which then
#                              needs system:auth-delegator).
#                              Without a CA, Vault in a pod uses its own CA file;
#                              outside the cluster give --kubernetes-ca-file.
#   --auth-path=PATH           auth mount          (VAULT_AUTH_PATH, default kubernetes)
#   --role=NAME                role                (VAULT_ROLE, default vault-sync-operator)
#   --policy-name=NAME         policy              (VAULT_POLICY_NAME, default vault-sync-operator)
#   --policy-file=FILE         policy HCL          (VAULT_POLICY_FILE, default policy.hcl beside this script)
#   --namespace=NS             controller's namespace        (SERVICE_ACCOUNT_NAMESPACE, default vault-sync-system)
#   --service-account=NAME     controller's service account  (SERVICE_ACCOUNT_NAME, default vault-sync-operator)
#   --audience=AUD             required token audience (the chart's vault.tokenAudience) (TOKEN_AUDIENCE, default vault; "" for none)
#   --token-ttl=DURATION       Vault token TTL     (TOKEN_TTL, default 1h; the controller renews at 2/3)
#   --token-max-ttl=DURATION   Vault token max TTL (TOKEN_MAX_TTL, default 24h; then it logs in again)
#   -h, --help
set -eu

usage() { sed -n '2,/^set -eu$/{/^set -eu$/d;s/^# \{0,1\}//;p}' "$0"; }
die() { echo "setup.sh: $*" >&2; exit 2; }
say() { echo "setup.sh: $*" >&2; }

script_dir=$(cd "$(dirname "$0")" && pwd)
kubernetes_host=${KUBERNETES_HOST:-}
kubernetes_ca_file=${KUBERNETES_CA_FILE:-}
reviewer_jwt_file=${REVIEWER_JWT_FILE:-}
auth_path=${VAULT_AUTH_PATH:-kubernetes}
role=${VAULT_ROLE:-vault-sync-operator}
policy_name=${VAULT_POLICY_NAME:-vault-sync-operator}
policy_file=${VAULT_POLICY_FILE:-$script_dir/policy.hcl}
sa_namespace=${SERVICE_ACCOUNT_NAMESPACE:-vault-sync-system}
sa_name=${SERVICE_ACCOUNT_NAME:-vault-sync-operator}
audience=${TOKEN_AUDIENCE-vault}
token_ttl=${TOKEN_TTL:-1h}
token_max_ttl=${TOKEN_MAX_TTL:-24h}

while [ $# -gt 0 ]; do
  arg=$1
  shift
  case $arg in
    -h | --help) usage; exit 0 ;;
    --*=*) name=${arg%%=*}; value=${arg#*=} ;;
    --*)
      [ $# -gt 0 ] || die "$arg needs a value"
      name=$arg; value=$1; shift ;;
    *) die "unexpected argument '$arg' (see --help)" ;;
  esac
  case $name in
    --kubernetes-host) kubernetes_host=$value ;;
    --kubernetes-ca-file) kubernetes_ca_file=$value ;;
    --reviewer-jwt-file) reviewer_jwt_file=$value ;;
    --reviewer-jwt) die "pass the reviewer JWT in a file (--reviewer-jwt-file) or in REVIEWER_JWT, not as an argument" ;;
    --auth-path) auth_path=$value ;;
    --role) role=$value ;;
    --policy-name) policy_name=$value ;;
    --policy-file) policy_file=$value ;;
    --namespace) sa_namespace=$value ;;
    --service-account) sa_name=$value ;;
    --audience) audience=$value ;;
    --token-ttl) token_ttl=$value ;;
    --token-max-ttl) token_max_ttl=$value ;;
    *) die "unknown option $name (see --help)" ;;
  esac
done

# --- inputs ------------------------------------------------------------------
[ -n "$kubernetes_host" ] || die "--kubernetes-host (or KUBERNETES_HOST) is required, e.g. https://10.0.0.1:6443"
case $kubernetes_host in https://* | http://*) ;; *) die "--kubernetes-host must be a URL (https://...), got '$kubernetes_host'" ;; esac
auth_path=${auth_path%/}
auth_path=${auth_path#/}
for pair in "auth-path:$auth_path" "role:$role" "policy-name:$policy_name"; do
  case ${pair#*:} in
    '' | *[!A-Za-z0-9_./-]* | *..*) die "--${pair%%:*} '${pair#*:}' may only hold letters, digits, '_', '-', '.', '/'" ;;
  esac
done
[ -z "$kubernetes_ca_file" ] || [ -r "$kubernetes_ca_file" ] || die "cannot read --kubernetes-ca-file $kubernetes_ca_file"
[ -z "$reviewer_jwt_file" ] || [ -r "$reviewer_jwt_file" ] || die "cannot read --reviewer-jwt-file $reviewer_jwt_file"
[ -r "$policy_file" ] || die "cannot read the policy file $policy_file"

if [ -n "${VAULT_CLI:-}" ]; then
  cli=$VAULT_CLI
elif command -v bao >/dev/null 2>&1; then
  cli=bao
elif command -v vault >/dev/null 2>&1; then
  cli=vault
else
  die "neither bao nor vault is on PATH; install one or set VAULT_CLI"
fi
command -v "$cli" >/dev/null 2>&1 || die "VAULT_CLI '$cli' is not executable"
# Each CLI reads its own variables; accept either spelling for both, but
# never two different servers or tokens.
for pair in "VAULT_ADDR:BAO_ADDR" "VAULT_TOKEN:BAO_TOKEN"; do
  eval "a=\${${pair%%:*}:-} b=\${${pair#*:}:-}"
  if [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ]; then die "${pair%%:*} and ${pair#*:} differ; unset one"; fi
done
if [ -z "${VAULT_ADDR:-}" ] && [ -n "${BAO_ADDR:-}" ]; then export VAULT_ADDR="$BAO_ADDR"; fi
if [ -z "${BAO_ADDR:-}" ] && [ -n "${VAULT_ADDR:-}" ]; then export BAO_ADDR="$VAULT_ADDR"; fi
if [ -z "${VAULT_TOKEN:-}" ] && [ -n "${BAO_TOKEN:-}" ]; then export VAULT_TOKEN="$BAO_TOKEN"; fi
if [ -z "${BAO_TOKEN:-}" ] && [ -n "${VAULT_TOKEN:-}" ]; then export BAO_TOKEN="$VAULT_TOKEN"; fi

# --- 1. auth mount -----------------------------------------------------------
mounts=$("$cli" auth list -format=json)
if printf '%s' "$mounts" | grep -F -q "\"$auth_path/\""; then
  say "auth method at auth/$auth_path exists"
else
  say "enabling the kubernetes auth method at auth/$auth_path"
  "$cli" auth enable -path="$auth_path" -description="vault-sync-operator logins" kubernetes >/dev/null
fi

# --- 2. cluster connection -----------------------------------------------------
# Files are passed as @file and the JWT from the environment on stdin, so no
# credential appears in a process listing.
set -- "kubernetes_host=$kubernetes_host"
if [ -n "$kubernetes_ca_file" ]; then set -- "$@" "kubernetes_ca_cert=@$kubernetes_ca_file"; fi
if [ -n "$reviewer_jwt_file" ]; then
  set -- "$@" "token_reviewer_jwt=@$reviewer_jwt_file"
  "$cli" write "auth/$auth_path/config" "$@" >/dev/null
elif [ -n "${REVIEWER_JWT:-}" ]; then
  set -- "$@" "token_reviewer_jwt=-"
  printf '%s' "$REVIEWER_JWT" | "$cli" write "auth/$auth_path/config" "$@" >/dev/null
else
  say "no reviewer JWT given: Vault reviews logins with its own pod token (in the cluster) or with the logging-in token"
  "$cli" write "auth/$auth_path/config" "$@" >/dev/null
fi
say "auth/$auth_path/config: kubernetes_host=$kubernetes_host${kubernetes_ca_file:+ (CA from $kubernetes_ca_file)}"

# --- 3. policy -------------------------------------------------------------------
"$cli" policy write "$policy_name" "$policy_file" >/dev/null
say "policy $policy_name written from $policy_file"

# --- 4. role ---------------------------------------------------------------------
set -- \
  "bound_service_account_names=$sa_name" \
  "bound_service_account_namespaces=$sa_namespace" \
  "token_policies=$policy_name" \
  "token_ttl=$token_ttl" \
  "token_max_ttl=$token_max_ttl"
if [ -n "$audience" ]; then set -- "$@" "audience=$audience"; fi
"$cli" write "auth/$auth_path/role/$role" "$@" >/dev/null
say "role $role: service account $sa_namespace/$sa_name, policy $policy_name${audience:+, audience $audience}"

cat >&2 <<DONE
setup.sh: done. The controller logs in with:
  --vault-auth-method=kubernetes --vault-auth-path=$auth_path --vault-role=$role
DONE
