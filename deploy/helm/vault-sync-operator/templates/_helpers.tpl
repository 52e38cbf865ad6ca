{{/* Names */}}
{{- define "vso.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vso.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "vso.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vso.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "vso.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vso.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vso.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "vso.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: vault-sync-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "vso.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Namespaces the controller watches: a list, or "" for all. Accepts a list or a comma-separated string. */}}
{{- define "vso.watchNamespaces" -}}
{{- $ns := .Values.config.namespaces -}}
{{- if kindIs "string" $ns -}}
{{- $ns = regexSplit "\\s*,\\s*" (trim $ns) -1 -}}
{{- end -}}
{{- $out := list -}}
{{- range $ns -}}{{- if . -}}{{- $out = append $out (toString .) -}}{{- end -}}{{- end -}}
{{- toJson (uniq $out) -}}
{{- end -}}

{{- define "vso.leaseNamespace" -}}
{{- default .Release.Namespace .Values.config.leaderElectionNamespace -}}
{{- end -}}

{{- define "vso.metricsAuth" -}}
{{- if kindIs "bool" .Values.config.metricsAuth -}}{{ .Values.config.metricsAuth }}{{- else -}}{{ eq (toString .Values.config.metricsAuth) "true" }}{{- end -}}
{{- end -}}

{{/* A flag value as text: whole numbers without exponent, lists joined with commas. */}}
{{- define "vso.flagValue" -}}
{{- $v := . -}}
{{- if kindIs "slice" $v -}}
{{- $parts := list -}}
{{- range $v -}}{{- $parts = append $parts (include "vso.flagValue" .) -}}{{- end -}}
{{- join "," $parts -}}
{{- else if and (kindIs "float64" $v) (eq $v (floor $v)) -}}
{{- int64 $v -}}
{{- else -}}
{{- toString $v -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the ledger key (name only: it lives in the release namespace). */}}
{{- define "vso.ledgerKeySecret" -}}
{{- default (printf "%s-ledger-key" (include "vso.fullname" .)) .Values.config.ledgerKeySecret -}}
{{- end -}}

{{/*
The intent journal ConfigMap as {namespace, name} (config.intentJournal:
"name" in the release namespace or "namespace/name"; "" = <fullname>-intents).
*/}}
{{- define "vso.intentJournalRef" -}}
{{- $ref := .Values.config.intentJournal | default (printf "%s-intents" (include "vso.fullname" .)) -}}
{{- if contains "/" $ref -}}{{- $parts := splitList "/" $ref -}}{{ dict "namespace" (index $parts 0) "name" (index $parts 1) | toJson }}
{{- else -}}{{ dict "namespace" .Release.Namespace "name" $ref | toJson }}
{{- end -}}
{{- end -}}

{{/* The chart's tuning ConfigMap (name only: it lives in the release namespace). */}}
{{- define "vso.tuningConfigMap" -}}
{{- default (printf "%s-tuning" (include "vso.fullname" .)) .Values.tuning.name -}}
{{- end -}}

{{/*
The tuning ConfigMap the controller watches, as {namespace, name}, or {} when
there is none (config.tuningConfigmap: "name" in the release namespace or
"namespace/name"; the chart's own with tuning.create).
*/}}
{{- define "vso.tuningRef" -}}
{{- $ref := .Values.config.tuningConfigmap | default "" -}}
{{- if and (not $ref) .Values.tuning.create -}}{{- $ref = include "vso.tuningConfigMap" . -}}{{- end -}}
{{- if not $ref -}}{}
{{- else if contains "/" $ref -}}{{- $parts := splitList "/" $ref -}}{{ dict "namespace" (index $parts 0) "name" (index $parts 1) | toJson }}
{{- else -}}{{ dict "namespace" .Release.Namespace "name" $ref | toJson }}
{{- end -}}
{{- end -}}

{{- define "vso.projectedTokenPath" -}}/var/run/secrets/vault-sync-operator/token{{- end -}}

{{/*
The effective controller flags: .Values.config with the derived values
filled in. Rendered as a JSON object of flag name (kebab-case) to text.
*/}}
{{- define "vso.flags" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $_ := set $cfg "namespaces" (include "vso.watchNamespaces" . | fromJsonArray) -}}
{{- if not $cfg.metricsBindAddress -}}{{- $_ := set $cfg "metricsBindAddress" (printf ":%v" .Values.ports.metrics) -}}{{- end -}}
{{- if not $cfg.healthProbeBindAddress -}}{{- $_ := set $cfg "healthProbeBindAddress" (printf ":%v" .Values.ports.health) -}}{{- end -}}
{{- if and .Values.status.enabled (not $cfg.statusBindAddress) -}}{{- $_ := set $cfg "statusBindAddress" (printf ":%v" .Values.ports.status) -}}{{- end -}}
{{- if not .Values.status.enabled -}}{{- $_ := set $cfg "statusBindAddress" "" -}}{{- end -}}
{{- if not $cfg.pathPolicy -}}{{- $_ := set $cfg "pathPolicy" (ternary "secret/{cluster}/{namespace}/*" "secret/{namespace}/*" (not (empty $cfg.clusterName))) -}}{{- end -}}
{{- if not $cfg.ledgerKeySecret -}}{{- $_ := set $cfg "ledgerKeySecret" (include "vso.ledgerKeySecret" .) -}}{{- end -}}
{{- if not $cfg.intentJournal -}}{{- $_ := set $cfg "intentJournal" (printf "%s-intents" (include "vso.fullname" .)) -}}{{- end -}}
{{- if and .Values.tuning.create (not $cfg.tuningConfigmap) -}}{{- $_ := set $cfg "tuningConfigmap" (include "vso.tuningConfigMap" .) -}}{{- end -}}
{{- if and .Values.vault.tokenAudience (not $cfg.serviceAccountTokenFile) -}}{{- $_ := set $cfg "serviceAccountTokenFile" (include "vso.projectedTokenPath" .) -}}{{- end -}}
{{- if and .Values.vault.caSecret.name (not $cfg.vaultCacert) -}}{{- $_ := set $cfg "vaultCacert" (printf "/etc/vault-sync-operator/vault-ca/%s" .Values.vault.caSecret.key) -}}{{- end -}}
{{- if and .Values.vault.tokenSecret.name (not $cfg.vaultTokenFile) -}}{{- $_ := set $cfg "vaultTokenFile" (printf "/etc/vault-sync-operator/vault-token/%s" .Values.vault.tokenSecret.key) -}}{{- end -}}
{{- if and .Values.vault.approleSecretIdSecret.name (not $cfg.vaultApproleSecretIdFile) -}}{{- $_ := set $cfg "vaultApproleSecretIdFile" (printf "/etc/vault-sync-operator/approle/%s" .Values.vault.approleSecretIdSecret.key) -}}{{- end -}}
{{- $flags := dict -}}
{{- range $key, $value := $cfg -}}
{{- if not (kindIs "invalid" $value) -}}
{{- $text := include "vso.flagValue" $value -}}
{{- if ne $text "" -}}{{- $_ := set $flags (kebabcase $key) $text -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $flags -}}
{{- end -}}

{{/* Selector for this release's series in PromQL (job is the Service name for a ServiceMonitor). */}}
{{- define "vso.promSelector" -}}
job="{{ include "vso.name" . }}",namespace="{{ .Release.Namespace }}"
{{- end -}}

{{/*
What the controller does with the Kubernetes API, and nothing more:
  Secrets      list/watch (it asks for metadata only), get (reads the data of
               referenced Secrets), patch (status annotations and finalizer)
  Deployments  list/watch, patch (status annotations and finalizer)
  Events       create (events.k8s.io/v1)
RBAC cannot tell a metadata-only list from a full one: list on Secrets is
read access to their data. See docs/security.md.
*/}}
{{- define "vso.watchRules" -}}
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, patch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [list, watch, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create]
{{- end -}}

