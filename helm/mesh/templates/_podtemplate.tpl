{{/* The pod of the Deployment or DaemonSet. */}}
{{- define "mesh.podTemplate" -}}
{{- if le (int .Values.deployment.terminationGracePeriodSeconds) (int .Values.deployment.shutdownDelaySeconds) }}
{{- fail (printf "deployment.terminationGracePeriodSeconds (%v) must be greater than deployment.shutdownDelaySeconds (%v): the pod would be killed before requests in flight end" .Values.deployment.terminationGracePeriodSeconds .Values.deployment.shutdownDelaySeconds) }}
{{- end -}}
metadata:
  labels:
    {{- include "mesh.selectorLabels" . | nindent 4 }}
    {{- with .Values.deployment.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.deployment.podAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "mesh.serviceAccountName" . }}
  automountServiceAccountToken: true
  terminationGracePeriodSeconds: {{ .Values.deployment.terminationGracePeriodSeconds }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- if .Values.deployment.hostNetwork }}
  hostNetwork: true
  {{- end }}
  {{- with .Values.deployment.dnsPolicy }}
  dnsPolicy: {{ . }}
  {{- end }}
  {{- with .Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.deployment.initContainers }}
  initContainers:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: mesh
      image: {{ include "mesh.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      # The image's entry point (Dockerfile), spelled out so the command is the same
      # whichever image is used.
      command:
        - /usr/local/bin/mesh
      args:
        - run
        {{- range $name, $port := .Values.ports }}
        - --entrypoint={{ $name }}=:{{ $port.port }}{{ if eq (upper ($port.protocol | default "TCP")) "UDP" }}/udp{{ end }}
        {{- end }}
        - --admin-addr=0.0.0.0:{{ .Values.admin.port }}
        - --api-groups={{ join "," .Values.providers.apiGroups }}
        {{- with .Values.providers.namespaces }}
        - --namespaces={{ join "," . }}
        {{- end }}
        {{- with .Values.providers.labelSelector }}
        - --label-selector={{ . }}
        {{- end }}
        {{- with .Values.providers.ingressClass }}
        - --ingress-class={{ . }}
        {{- end }}
        - --throttle={{ .Values.providers.throttle }}
        {{- if .Values.providers.allowCrossNamespace }}
        - --allow-cross-namespace
        {{- end }}
        {{- if .Values.providers.allowExternalNameServices }}
        - --allow-external-name-services
        {{- end }}
        {{- if .Values.providers.allowEmptyServices }}
        - --allow-empty-services
        {{- end }}
        {{- if .Values.providers.nativeLBByDefault }}
        - --native-lb-by-default
        {{- end }}
        {{- if kindIs "slice" .Values.providers.crossProviderNamespaces }}
        - --cross-provider-namespaces={{ join "," .Values.providers.crossProviderNamespaces }}
        {{- end }}
        - --leader-elect={{ .Values.leaderElection.enabled }}
        - --lease-name={{ .Values.leaderElection.leaseName }}
        - --lease-duration-secs={{ .Values.leaderElection.leaseDurationSeconds }}
        - --log-format={{ .Values.logs.format }}
        {{- if .Values.accessLogs.enabled }}
        - --access-log
        - --access-log-format={{ .Values.accessLogs.format }}
        {{- end }}
        {{- range .Values.additionalArguments }}
        - {{ . | quote }}
        {{- end }}
      env:
        # Identity in the Lease (the pod name) and the Lease's namespace.
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        - name: RUST_LOG
          value: {{ .Values.logs.level | quote }}
        {{- with .Values.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        {{- range $name, $port := .Values.ports }}
        - name: {{ $name }}
          containerPort: {{ $port.port }}
          protocol: {{ $port.protocol | default "TCP" }}
        {{- end }}
        - name: admin
          containerPort: {{ .Values.admin.port }}
          protocol: TCP
      {{- with .Values.startupProbe }}
      startupProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.readinessProbe }}
      readinessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.livenessProbe }}
      livenessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      lifecycle:
        {{- if .Values.deployment.lifecycle }}
        {{- toYaml .Values.deployment.lifecycle | nindent 8 }}
        {{- else }}
        # Keep serving while the endpoint removal reaches load balancers and kube-proxy;
        # the image has no shell, hence the kubelet's own sleep action.
        preStop:
          sleep:
            seconds: {{ .Values.deployment.shutdownDelaySeconds }}
        {{- end }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- with .Values.deployment.additionalVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    {{- with .Values.deployment.additionalContainers }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  volumes:
    - name: tmp
      emptyDir: {}
    {{- with .Values.deployment.additionalVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.affinity }}
  affinity:
    {{- toYaml .Values.affinity | nindent 4 }}
  {{- else if and (include "mesh.multipleReplicas" .) (ne .Values.deployment.kind "DaemonSet") }}
  # Default for more than one replica: prefer distinct nodes.
  affinity:
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          podAffinityTerm:
            topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels:
                {{- include "mesh.selectorLabels" . | nindent 16 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml .Values.topologySpreadConstraints | nindent 4 }}
  {{- else if and (include "mesh.multipleReplicas" .) (ne .Values.deployment.kind "DaemonSet") }}
  # Default for more than one replica: spread across nodes and zones, as far as they exist.
  topologySpreadConstraints:
    - maxSkew: 1
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "mesh.selectorLabels" . | nindent 10 }}
    - maxSkew: 1
      topologyKey: topology.kubernetes.io/zone
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "mesh.selectorLabels" . | nindent 10 }}
  {{- end }}
{{- end }}
