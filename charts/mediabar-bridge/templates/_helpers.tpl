{{/*
The chart name, overridable.
*/}}
{{- define "mediabar-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects: "<release>-mediabar-bridge", or the release name when
it already contains the chart name. 63 characters at most (DNS label).
*/}}
{{- define "mediabar-bridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mediabar-bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "mediabar-bridge.labels" -}}
helm.sh/chart: {{ include "mediabar-bridge.chart" . }}
{{ include "mediabar-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mediabar-bridge
{{- end }}

{{/*
Labels the Deployment, Service, PDB and ServiceMonitor select on. Never change them in an
upgrade: a Deployment's selector is immutable.
*/}}
{{- define "mediabar-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mediabar-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mediabar-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mediabar-bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Secret the bridge's secrets come from: existingSecret, or the one this chart creates.
*/}}
{{- define "mediabar-bridge.secretName" -}}
{{- default (include "mediabar-bridge.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "mediabar-bridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
The redis block of the bridge's config, from .Values.redis, as YAML. Mode-specific keys only:
the bridge refuses url and addrs together.
*/}}
{{- define "mediabar-bridge.redisConfig" -}}
{{- $r := .Values.redis }}
{{- $out := dict }}
{{- if eq $r.mode "standalone" }}
{{- if not $r.url }}{{ fail "redis.url is required with redis.mode standalone" }}{{ end }}
{{- $_ := set $out "url" $r.url }}
{{- else if eq $r.mode "sentinel" }}
{{- if not $r.addrs }}{{ fail "redis.addrs (the Sentinels' host:port) is required with redis.mode sentinel" }}{{ end }}
{{- if not $r.masterName }}{{ fail "redis.masterName is required with redis.mode sentinel" }}{{ end }}
{{- $_ := set $out "addrs" $r.addrs }}
{{- $_ := set $out "master_name" $r.masterName }}
{{- else if eq $r.mode "cluster" }}
{{- if lt (len $r.addrs) 2 }}{{ fail "redis.addrs needs at least two seed nodes with redis.mode cluster (one address is taken as standalone)" }}{{ end }}
{{- if $r.masterName }}{{ fail "redis.masterName must be empty with redis.mode cluster" }}{{ end }}
{{- if $r.db }}{{ fail "redis.db must be 0 with redis.mode cluster" }}{{ end }}
{{- $_ := set $out "addrs" $r.addrs }}
{{- else }}
{{- fail (printf "redis.mode must be standalone, sentinel or cluster, got %q" $r.mode) }}
{{- end }}
{{- if $r.username }}{{ $_ := set $out "username" $r.username }}{{ end }}
{{- if $r.db }}{{ $_ := set $out "db" $r.db }}{{ end }}
{{- toYaml $out }}
{{- end }}

{{/*
The bridge's config.yaml: .Values.config, plus the chart-owned keys (listen, ops_listen, where
Redis is).
*/}}
{{- define "mediabar-bridge.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- range $k := list "listen" "ops_listen" }}
{{- if hasKey $cfg $k }}{{ fail (printf "config.%s is set by the chart from ports; remove it from config" $k) }}{{ end }}
{{- end }}
{{- $redis := deepCopy (get $cfg "redis" | default dict) }}
{{- range $k := list "url" "addrs" "master_name" "username" "db" "password" }}
{{- if hasKey $redis $k }}{{ fail (printf "config.redis.%s is set by the chart from the redis block (and secrets); remove it from config" $k) }}{{ end }}
{{- end }}
{{- $_ := set $cfg "listen" (printf ":%v" .Values.ports.http) }}
{{- $_ := set $cfg "ops_listen" (printf ":%v" .Values.ports.ops) }}
{{- $_ := set $cfg "redis" (merge $redis (include "mediabar-bridge.redisConfig" . | fromYaml)) }}
{{- toYaml $cfg }}
{{- end }}

{{/*
The environment variable part of a CRM site's name (config.siteEnvKey): upper-cased, other
characters than A-Z 0-9 replaced by "_".
*/}}
{{- define "mediabar-bridge.siteEnvKey" -}}
{{- regexReplaceAll "[^A-Z0-9]" (upper .) "_" }}
{{- end }}

{{/*
The secrets the bridge cannot start without, as a list of environment variable names, for the
values of this release's config (used by NOTES.txt when the chart creates the Secret).
*/}}
{{- define "mediabar-bridge.requiredSecrets" -}}
{{- $names := list "MBB_ACD_WEBHOOK_SECRETS" "MBB_MEDIABAR_TOKEN_SECRET" "MBB_ADMIN_TOKEN" }}
{{- $crm := get (.Values.config | default dict) "crm" | default dict }}
{{- $suffix := ternary "API_KEY" "PASSWORD" (eq (get $crm "adapter" | default "oracle") "webhook") }}
{{- range $s := (get $crm "sites" | default list) }}
{{- $names = append $names (printf "MBB_CRM_%s_%s" (include "mediabar-bridge.siteEnvKey" $s.name) $suffix) }}
{{- end }}
{{- toJson $names }}
{{- end }}
