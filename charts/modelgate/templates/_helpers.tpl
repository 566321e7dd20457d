{{/* Names and labels shared by the templates. */}}

{{- define "modelgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "modelgate.fullname" -}}
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

{{- define "modelgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "modelgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "modelgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "modelgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: modelgate
{{- end -}}

{{/* The ValidatingWebhookConfiguration (cluster-scoped, like the ClusterRole: one release name per cluster). */}}
{{- define "modelgate.webhookConfigName" -}}
{{- include "modelgate.fullname" . -}}
{{- end -}}

{{- define "modelgate.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "selfManaged" -}}
{{- default (printf "%s-tls" (include "modelgate.fullname" .)) .Values.certificates.selfManaged.secretName -}}
{{- else if eq .Values.certificates.mode "certManager" -}}
{{- printf "%s-serving-tls" (include "modelgate.fullname" .) -}}
{{- else -}}
{{- required "certificates.secret.name is required with certificates.mode=secret" .Values.certificates.secret.name -}}
{{- end -}}
{{- end -}}

{{- define "modelgate.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The verification deadline: 2 s below the webhook timeout, so that an answer always arrives in time. */}}
{{- define "modelgate.deadlineMs" -}}
{{- sub (mul (int .Values.webhook.timeoutSeconds) 1000) 2000 -}}
{{- end -}}

{{/* Namespaces whose Secrets and ConfigMaps may be read (when not cluster-wide). */}}
{{- define "modelgate.secretNamespaces" -}}
{{- $all := list .Release.Namespace -}}
{{- range .Values.secretAccess.namespaces -}}
{{- $all = append $all . -}}
{{- end -}}
{{- join "," (uniq $all) -}}
{{- end -}}

{{- define "modelgate.checks" -}}
{{- if and .Values.podPullSecrets (not .Values.secretAccess.clusterWide) -}}
{{- fail "podPullSecrets needs secretAccess.clusterWide=true: a pod's pull secrets can be in any namespace" -}}
{{- end -}}
{{- if lt (int .Values.webhook.timeoutSeconds) 3 -}}
{{- fail "webhook.timeoutSeconds must be at least 3: the verification deadline is 2 s below it" -}}
{{- end -}}
{{- if and (eq .Values.certificates.mode "secret") (not .Values.certificates.secret.caBundle) -}}
{{- fail "certificates.secret.caBundle (PEM) is required with certificates.mode=secret" -}}
{{- end -}}
{{- end -}}
