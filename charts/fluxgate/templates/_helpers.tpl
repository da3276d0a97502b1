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
{{- printf "%s-webhook-tls" (include "fluxgate.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The DNS names of the webhook Service, as a comma-separated string. */}}
{{- define "fluxgate.webhookDNSNames" -}}
{{- $svc := include "fluxgate.webhookServiceName" . -}}
{{- printf "%s.%s.svc,%s.%s.svc.cluster.local" $svc .Release.Namespace $svc .Release.Namespace -}}
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
The namespaces never sent to the webhooks: the release namespace,
kube-system, kube-node-lease, Flux's (fluxNamespace, unless "") and
webhook.excludeNamespaces, as a list.
*/}}
{{- define "fluxgate.excludedNamespaces" -}}
{{- $excluded := list .Release.Namespace "kube-system" "kube-node-lease" -}}
{{- with .Values.fluxNamespace }}{{ $excluded = append $excluded . }}{{ end -}}
{{- concat $excluded .Values.webhook.excludeNamespaces | uniq | toJson -}}
{{- end -}}

{{/*
Shared part of both webhooks; takes (list $ "mutate"|"validate"): the
namespaces never sent (fluxgate.excludedNamespaces), the rules (apps/v1
workloads and policy/v1 PDBs, no wildcards; validation also their scale
subresource, `kubectl scale`) and the matchConditions: updates leaving spec
alone are skipped, and validation skips the HorizontalPodAutoscaler
controller's scales (a workload with an HPA is judged by its minimum, so
there is nothing to judge, and autoscaling never waits for fluxgate).
*/}}
{{- define "fluxgate.webhookCommon" -}}
{{- $ := index . 0 -}}
{{- $validate := eq (index . 1) "validate" -}}
admissionReviewVersions: [v1]
sideEffects: None
rules:
  - apiGroups: [apps]
    apiVersions: [v1]
    resources: [deployments, statefulsets, daemonsets]
    operations: [CREATE, UPDATE]
    scope: Namespaced
  {{- if $validate }}
  - apiGroups: [apps]
    apiVersions: [v1]
    resources: [deployments/scale, statefulsets/scale]
    operations: [UPDATE]
    scope: Namespaced
  {{- end }}
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
        {{- range include "fluxgate.excludedNamespaces" $ | fromJsonArray }}
        - {{ . | quote }}
        {{- end }}
    {{- with $.Values.webhook.namespaceSelectorExpressions }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
matchConditions:
  - name: spec-changed
    expression: "request.operation != 'UPDATE' || object.spec != oldObject.spec"
  {{- if $validate }}
  - name: not-autoscaler
    expression: "!(has(request.subResource) && request.subResource == 'scale' && has(request.userInfo.username) && request.userInfo.username in ['system:serviceaccount:kube-system:horizontal-pod-autoscaler', 'system:kube-controller-manager'])"
  {{- end }}
{{- end -}}

{{/*
The configuration fluxgate gets with --config, as YAML; empty means none
(the built-in defaults). It is .Values.config, plus fluxNamespace when it
differs from Flux's default namespace, so that fluxgate exempts the same
namespace the webhook configurations exclude.
*/}}
{{- define "fluxgate.config" -}}
{{- $config := deepCopy (.Values.config | default dict) -}}
{{- if and (hasKey $config "fluxNamespace") (ne (toString (index $config "fluxNamespace")) .Values.fluxNamespace) -}}
{{- fail "config.fluxNamespace differs from fluxNamespace: set fluxNamespace only; the chart passes it to fluxgate and excludes that namespace from both webhooks" -}}
{{- end -}}
{{- if ne .Values.fluxNamespace "flux-system" -}}
{{- $_ := set $config "fluxNamespace" .Values.fluxNamespace -}}
{{- end -}}
{{- if $config -}}
{{- toYaml $config -}}
{{- end -}}
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
  {{- /* No caBundle: fluxgate or cert-manager injects it, and Helm's
  three-way merge keeps the injected one across upgrades. */}}
{{- end -}}
