# Vault / OpenBao policy for vault-sync-operator: only what its write protocol
# uses, on the KV v2 mount "secret". Narrow the paths to match the
# controller's --path-policy (for example secret/data/prod/* with
# --cluster-name=prod --path-policy='secret/prod/{namespace}/*').
#
# deploy/vault/setup.sh writes this file as the controller's policy (pass
# --policy-file for a narrowed copy); the deploy tests run the controller with
# it through a write, a rotation and a cleanup.
#
#   data:      create (cas=0) and update (cas=version); read to repair an
#              interrupted create; delete for --delete-mode=latest
#   metadata:  read (ownership, unchanged checks), patch (ownership and
#              content hash), delete (remove every version on cleanup)

path "secret/data/*" {
  capabilities = ["create", "update", "read", "delete"]
}

path "secret/metadata/*" {
  capabilities = ["read", "patch", "delete"]
}

# KV version and mount detection, as the Vault CLI does it.
path "sys/internal/ui/mounts/*" {
  capabilities = ["read"]
}
