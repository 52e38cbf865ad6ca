# Vault / OpenBao policy for vault-sync-operator: only what its write protocol
# uses, on the KV v2 mount "secret", below one namespace segment: it matches
# the chart's default --path-policy 'secret/{namespace}/*' (Vault's "+" is one
# segment; with --cluster-name=prod use secret/data/prod/+/* and the policy
# 'secret/{cluster}/{namespace}/*'). The controller's path policy decides
# which namespace a segment belongs to; this bounds it to that shape, so
# nothing at the top of the mount (or in other mounts) is reachable.
#
# deploy/vault/setup.sh writes this file as the controller's policy (pass
# --policy-file for a narrowed copy); the deploy tests run the controller with
# it through a write, a rotation and a cleanup.
#
#   data:      create (cas=0) and update (cas=version); read to repair an
#              interrupted create; delete for --delete-mode=latest
#   metadata:  read (ownership, unchanged checks), patch (ownership and
#              content hash), delete (remove every version on cleanup)

path "secret/data/+/*" {
  capabilities = ["create", "update", "read", "delete"]
}

path "secret/metadata/+/*" {
  capabilities = ["read", "patch", "delete"]
}

# KV version and mount detection, as the Vault CLI does it.
path "sys/internal/ui/mounts/*" {
  capabilities = ["read"]
}
