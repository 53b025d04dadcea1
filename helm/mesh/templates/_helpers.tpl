{{/* Chart name, overridable. */}}
{{- define "mesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects. */}}
{{- define "mesh.fullname" -}}
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

{{- define "mesh.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mesh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mesh.labels" -}}
helm.sh/chart: {{ include "mesh.chart" . }}
{{ include "mesh.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "mesh.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mesh.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* registry/repository:tag, or @digest when a digest is given. */}}
{{- define "mesh.image" -}}
{{- $repository := .Values.image.repository }}
{{- with .Values.image.registry }}
{{- $repository = printf "%s/%s" . $repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* More than one pod may run: spread them and keep a PDB meaningful. */}}
{{- define "mesh.multipleReplicas" -}}
{{- if or (eq .Values.deployment.kind "DaemonSet") .Values.autoscaling.enabled (gt (int .Values.deployment.replicas) 1) }}true{{- end }}
{{- end }}

{{/* Rules on namespaced resources: cluster-wide in a ClusterRole, or one Role per watched
     namespace when providers.namespaces is set. */}}
{{- define "mesh.namespacedRules" -}}
# The world routes are built from (ConfigMaps: CA bundles of ServersTransports).
- apiGroups: [""]
  resources: ["services", "secrets", "configmaps"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch"]
# Mesh's kinds, and Traefik's for migration (--api-groups).
- apiGroups: ["mesh.io", "traefik.io", "traefik.containo.us"]
  resources:
    {{- include "mesh.crdKinds" . | nindent 4 }}
  verbs: ["get", "list", "watch"]
# Status written by the Lease holder.
- apiGroups: ["mesh.io", "traefik.io", "traefik.containo.us"]
  resources:
    {{- include "mesh.crdKindStatuses" . | nindent 4 }}
  verbs: ["patch", "update"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses/status"]
  verbs: ["patch", "update"]
# Events next to the conditions (both APIs: kube-rs recorders use events.k8s.io).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/* Cluster-scoped objects the operator reads in every mode. */}}
{{- define "mesh.clusterRules" -}}
- apiGroups: [""]
  resources: ["nodes"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingressclasses"]
  verbs: ["get", "list", "watch"]
{{- end }}

{{/* The ten kinds as RBAC resource names (the same in mesh.io, traefik.io, traefik.containo.us). */}}
{{- define "mesh.crdKinds" -}}
- ingressroutes
- ingressroutetcps
- ingressrouteudps
- middlewares
- middlewaretcps
- traefikservices
- tlsoptions
- tlsstores
- serverstransports
- serverstransporttcps
{{- end }}

{{/* Their status subresources. */}}
{{- define "mesh.crdKindStatuses" -}}
- ingressroutes/status
- ingressroutetcps/status
- ingressrouteudps/status
- middlewares/status
- middlewaretcps/status
- traefikservices/status
- tlsoptions/status
- tlsstores/status
- serverstransports/status
- serverstransporttcps/status
{{- end }}
