{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "fluxgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every resource name. */}}
{{- define "fluxgate.fullname" -}}
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

{{/* Labels selecting the fluxgate pods. */}}
{{- define "fluxgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fluxgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{/* Labels on every object. */}}
{{- define "fluxgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "fluxgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fluxgate
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The ServiceAccount name. */}}
{{- define "fluxgate.serviceAccountName" -}}
{{- default (include "fluxgate.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The webhook Service name. */}}
{{- define "fluxgate.webhookServiceName" -}}
{{- printf "%s-webhook" (include "fluxgate.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Secret with the webhook server's certificate. */}}
{{- define "fluxgate.tlsSecretName" -}}
{{- if and (not .Values.certManager.enabled) .Values.webhook.tls.secretName -}}
{{- .Values.webhook.tls.secretName -}}
{{- else -}}
{{- printf "%s-webhook-tls" (include "fluxgate.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Whether the chart generates the webhook certificate itself. */}}
{{- define "fluxgate.generateTLS" -}}
{{- if and (not .Values.certManager.enabled) (not .Values.webhook.tls.secretName) -}}true{{- end -}}
{{- end -}}

{{/* The DNS names of the webhook Service, as a comma-separated string. */}}
{{- define "fluxgate.webhookDNSNames" -}}
{{- $svc := include "fluxgate.webhookServiceName" . -}}
{{- printf "%s.%s.svc,%s.%s.svc.cluster.local" $svc .Release.Namespace $svc .Release.Namespace -}}
{{- end -}}

{{/*
The generated webhook certificate, computed once per render and kept in
.Release.fluxgateTLS (the Secret and both webhook configurations read it, so
they always agree): a dict of the Secret's data (base64 ca.crt, tls.crt,
tls.key), "caBundle" (base64 PEM, with the previous CA appended while it is
being replaced) and "notAfter" (Unix seconds). The Secret in the cluster is
reused (lookup) unless it is missing, was issued for other DNS names, or
expires within renewDaysBefore. `helm template` cannot look it up and
renders a new one every time.
*/}}
{{- define "fluxgate.generatedTLS" -}}
{{- if not (hasKey .Release "fluxgateTLS") -}}
{{- if ge (int .Values.webhook.tls.renewDaysBefore) (int .Values.webhook.tls.validityDays) -}}
{{- fail "webhook.tls.renewDaysBefore must be less than webhook.tls.validityDays" -}}
{{- end -}}
{{- $tls := dict -}}
{{- $dns := include "fluxgate.webhookDNSNames" . -}}
{{- $now := now | unixEpoch | atoi -}}
{{- $renewBefore := mul .Values.webhook.tls.renewDaysBefore 86400 -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "fluxgate.tlsSecretName" .) -}}
{{- $data := dict -}}
{{- $annotations := dict -}}
{{- if $existing -}}
{{- $data = $existing.data | default dict -}}
{{- $annotations = $existing.metadata.annotations | default dict -}}
{{- end -}}
{{- $notAfter := index $annotations "fluxgate.dev/not-after" | default "0" | atoi -}}
{{- $reuse := and (index $data "ca.crt") (index $data "tls.crt") (index $data "tls.key") (eq (index $annotations "fluxgate.dev/dns-names" | default "") $dns) (gt (sub $notAfter $renewBefore) $now) -}}
{{- if $reuse -}}
{{- $tls = dict "ca.crt" (index $data "ca.crt") "tls.crt" (index $data "tls.crt") "tls.key" (index $data "tls.key") "caBundle" (index $data "ca.crt") "notAfter" (toString $notAfter) -}}
{{- else -}}
{{- $days := int .Values.webhook.tls.validityDays -}}
{{- $ca := genCA (printf "%s-webhook-ca" (include "fluxgate.fullname" .)) $days -}}
{{- $svc := include "fluxgate.webhookServiceName" . -}}
{{- $names := list (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.cluster.local" $svc .Release.Namespace) -}}
{{- $cert := genSignedCert (first $names) nil $names $days $ca -}}
{{- $bundle := $ca.Cert -}}
{{- with index $data "ca.crt" -}}
{{- $bundle = printf "%s\n%s" (trimSuffix "\n" $ca.Cert) (b64dec .) -}}
{{- end -}}
{{- $tls = dict "ca.crt" ($ca.Cert | b64enc) "tls.crt" ($cert.Cert | b64enc) "tls.key" ($cert.Key | b64enc) "caBundle" ($bundle | b64enc) "notAfter" (toString (add $now (mul $days 86400))) -}}
{{- end -}}
{{- $_ := set .Release "fluxgateTLS" $tls -}}
{{- end -}}
{{- end -}}

{{/* The configuration ConfigMap name. */}}
{{- define "fluxgate.configMapName" -}}
{{- printf "%s-config" (include "fluxgate.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The container image reference. */}}
{{- define "fluxgate.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
Shared part of both webhooks: the namespaces never sent (always the release
namespace, kube-system and kube-node-lease, plus webhook.excludeNamespaces),
the rules (apps/v1 workloads and policy/v1 PDBs, no wildcards) and the
matchCondition that skips updates leaving spec alone.
*/}}
{{- define "fluxgate.webhookCommon" -}}
admissionReviewVersions: [v1]
sideEffects: None
rules:
  - apiGroups: [apps]
    apiVersions: [v1]
    resources: [deployments, statefulsets, daemonsets]
    operations: [CREATE, UPDATE]
    scope: Namespaced
  - apiGroups: [policy]
    apiVersions: [v1]
    resources: [poddisruptionbudgets]
    operations: [CREATE, UPDATE]
    scope: Namespaced
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- $excluded := concat (list .Release.Namespace "kube-system" "kube-node-lease") .Values.webhook.excludeNamespaces | uniq }}
        {{- range $excluded }}
        - {{ . | quote }}
        {{- end }}
    {{- with .Values.webhook.namespaceSelectorExpressions }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
matchConditions:
  - name: spec-changed
    expression: "request.operation != 'UPDATE' || object.spec != oldObject.spec"
{{- end -}}

{{/* Annotations of the webhook configurations (CA injection). */}}
{{- define "fluxgate.webhookAnnotations" -}}
{{- $a := dict -}}
{{- if .Values.certManager.enabled -}}
{{- $_ := set $a "cert-manager.io/inject-ca-from" (printf "%s/%s-webhook" .Release.Namespace (include "fluxgate.fullname" .)) -}}
{{- end -}}
{{- with .Values.webhook.annotations -}}
{{- $a = merge $a . -}}
{{- end -}}
{{- if $a }}
annotations:
  {{- toYaml $a | nindent 2 }}
{{- end }}
{{- end -}}

{{/* clientConfig of a webhook; takes (list $ path). */}}
{{- define "fluxgate.clientConfig" -}}
{{- $ := index . 0 -}}
clientConfig:
  service:
    name: {{ include "fluxgate.webhookServiceName" $ }}
    namespace: {{ $.Release.Namespace }}
    path: {{ index . 1 }}
    port: {{ $.Values.service.webhookPort }}
  {{- if not $.Values.certManager.enabled }}
  {{- if $.Values.webhook.tls.secretName }}
  caBundle: {{ required "webhook.tls.caBundle is required with webhook.tls.secretName (or set certManager.enabled)" $.Values.webhook.tls.caBundle }}
  {{- else }}
  {{- include "fluxgate.generatedTLS" $ }}
  caBundle: {{ index $.Release.fluxgateTLS "caBundle" }}
  {{- end }}
  {{- end }}
{{- end -}}
