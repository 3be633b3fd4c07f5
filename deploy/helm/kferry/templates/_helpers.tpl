{{/* Names and labels. */}}
{{- define "kferry.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kferry.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kferry.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kferry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kferry.labels" -}}
{{ include "kferry.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: {{ .Values.mode }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kferry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kferry.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* kferry.deployment: true for the modes that run as a Deployment. */}}
{{- define "kferry.deployment" -}}
{{- if has .Values.mode (list "export-follow" "import-follow" "migrate" "backup-follow") -}}true{{- end -}}
{{- end -}}

{{/* kferry.serves: true for the modes that serve /metrics, /healthz and /readyz. */}}
{{- define "kferry.serves" -}}
{{- if and .Values.metrics.enabled (has .Values.mode (list "export-follow" "import-follow" "migrate")) -}}true{{- end -}}
{{- end -}}

{{/* kferry.validate fails the render on values that cannot work. */}}
{{- define "kferry.validate" -}}
{{- $modes := list "export-follow" "import-follow" "migrate" "backup-follow" "backup-cron" "restore-job" -}}
{{- if not (has .Values.mode $modes) -}}
{{- fail (printf "mode %q: use one of %s" .Values.mode (join ", " $modes)) -}}
{{- end -}}
{{- if not .Values.bucket -}}
{{- fail "bucket is required: the bucket URL to write to or read from (s3://, gs://, azblob://)" -}}
{{- end -}}
{{- if and .Values.topics .Values.topicRegex -}}
{{- fail "set topics or topicRegex, not both" -}}
{{- end -}}
{{- if eq .Values.mode "migrate" -}}
{{- if or (not .Values.source.brokers) (not .Values.target.brokers) -}}
{{- fail "mode migrate needs source.brokers and target.brokers" -}}
{{- end -}}
{{- else if not .Values.kafka.brokers -}}
{{- fail "kafka.brokers is required (host:port,host:port)" -}}
{{- end -}}
{{- if and (has .Values.mode (list "export-follow" "migrate")) (not .Values.topics) (not .Values.topicRegex) -}}
{{- fail (printf "mode %s needs topics or topicRegex" .Values.mode) -}}
{{- end -}}
{{- end -}}

{{/* kferry.selection: the topic selection and renames as arguments. */}}
{{- define "kferry.selection" -}}
{{- if .Values.topics }}
- --topics
- {{ join "," .Values.topics | quote }}
{{- end }}
{{- if .Values.topicRegex }}
- --topic-regex
- {{ .Values.topicRegex | quote }}
{{- end }}
{{- end -}}

{{- define "kferry.renames" -}}
{{- range .Values.renames }}
- --rename
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/* kferry.args: the command line of each mode. */}}
{{- define "kferry.args" -}}
{{- $v := .Values -}}
{{- if eq $v.mode "export-follow" }}
- export
- --follow
- --to
- {{ $v.bucket | quote }}
{{- include "kferry.selection" . }}
{{- if $v.group }}
- --group
- {{ $v.group | quote }}
{{- end }}
{{- else if eq $v.mode "import-follow" }}
- import
- --follow
- --from
- {{ $v.bucket | quote }}
{{- include "kferry.selection" . }}
{{- include "kferry.renames" . }}
{{- if $v.group }}
- --group
- {{ $v.group | quote }}
{{- end }}
{{- else if eq $v.mode "migrate" }}
- migrate
- --follow
- --via
- {{ $v.bucket | quote }}
{{- include "kferry.selection" . }}
{{- include "kferry.renames" . }}
{{- if $v.group }}
- --group
- {{ $v.group | quote }}
{{- end }}
{{- if $v.migrate.groups }}
- --groups
- {{ $v.migrate.groups | quote }}
{{- end }}
{{- else if eq $v.mode "backup-follow" }}
- backup
- --follow
- --interval
- {{ $v.backup.interval | quote }}
- --to
- {{ $v.bucket | quote }}
{{- include "kferry.selection" . }}
{{- if $v.backup.groups }}
- --groups
- {{ $v.backup.groups | quote }}
{{- end }}
{{- else if eq $v.mode "backup-cron" }}
- backup
- --to
- {{ $v.bucket | quote }}
{{- include "kferry.selection" . }}
{{- if $v.backup.groups }}
- --groups
- {{ $v.backup.groups | quote }}
{{- end }}
{{- else if eq $v.mode "restore-job" }}
- restore
- --from
- {{ $v.bucket | quote }}
{{- include "kferry.selection" . }}
{{- include "kferry.renames" . }}
{{- if $v.restore.groups }}
- --groups
- {{ $v.restore.groups | quote }}
{{- end }}
{{- end }}
{{- if include "kferry.deployment" . }}
- --shutdown-timeout
- {{ $v.shutdownTimeout | quote }}
{{- end }}
{{- if include "kferry.serves" . }}
- --metrics-addr
- {{ printf "0.0.0.0:%d" (int $v.metrics.port) | quote }}
{{- end }}
{{- if $v.encryption.secret }}
- --encrypt-key-file
- {{ printf "/etc/kferry/encryption/%s" $v.encryption.key | quote }}
{{- end }}
- --log-format
- {{ $v.logFormat | quote }}
{{- range $v.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/* kferry.clusterEnv: one cluster's settings as KFERRY_[SIDE_]* variables.
     Called with (dict "prefix" "SOURCE_" "dir" "source" "c" .Values.source). */}}
{{- define "kferry.clusterEnv" -}}
{{- $p := .prefix -}}
- name: KFERRY_{{ $p }}BROKERS
  value: {{ .c.brokers | quote }}
{{- if .c.sasl.mechanism }}
- name: KFERRY_{{ $p }}SASL_MECHANISM
  value: {{ .c.sasl.mechanism | quote }}
{{- end }}
{{- if .c.sasl.username }}
- name: KFERRY_{{ $p }}SASL_USERNAME
  value: {{ .c.sasl.username | quote }}
{{- end }}
{{- if .c.sasl.passwordSecret.name }}
- name: KFERRY_{{ $p }}SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .c.sasl.passwordSecret.name | quote }}
      key: {{ .c.sasl.passwordSecret.key | quote }}
{{- end }}
{{- if .c.tls.enabled }}
- name: KFERRY_{{ $p }}TLS
  value: "true"
{{- range $flag, $key := dict "CA" .c.tls.caKey "CERT" .c.tls.certKey "KEY" .c.tls.keyKey }}
{{- if $key }}
- name: KFERRY_{{ $p }}TLS_{{ $flag }}
  value: {{ printf "/etc/kferry/tls-%s/%s" $.dir $key | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* kferry.clusters: the clusters of this mode, as (dict prefix dir c). */}}
{{- define "kferry.clusters" -}}
{{- if eq .Values.mode "migrate" -}}
{{- toJson (list (dict "prefix" "SOURCE_" "dir" "source" "c" .Values.source) (dict "prefix" "TARGET_" "dir" "target" "c" .Values.target)) -}}
{{- else -}}
{{- toJson (list (dict "prefix" "" "dir" "kafka" "c" .Values.kafka)) -}}
{{- end -}}
{{- end -}}

{{/* kferry.pod: the pod spec every mode shares. */}}
{{- define "kferry.pod" -}}
{{- $clusters := include "kferry.clusters" . | fromJsonArray -}}
serviceAccountName: {{ include "kferry.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: kferry
    image: {{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) | quote }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    args:
      {{- include "kferry.args" . | trim | nindent 6 }}
    env:
      {{- range $clusters }}
      {{- include "kferry.clusterEnv" . | nindent 6 }}
      {{- end }}
      {{- with .Values.env }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    {{- with .Values.envFrom }}
    envFrom:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- if include "kferry.serves" . }}
    ports:
      - name: metrics
        containerPort: {{ .Values.metrics.port }}
        protocol: TCP
    readinessProbe:
      httpGet: {path: /readyz, port: metrics}
      periodSeconds: 10
    livenessProbe:
      httpGet: {path: /healthz, port: metrics}
      periodSeconds: 20
      failureThreshold: 3
    {{- end }}
    resources:
      {{- toYaml .Values.resources | nindent 6 }}
    securityContext:
      {{- toYaml .Values.securityContext | nindent 6 }}
    volumeMounts:
      - {name: tmp, mountPath: /tmp}
      {{- range $clusters }}
      {{- if and .c.tls.enabled .c.tls.secret }}
      - {name: {{ printf "tls-%s" .dir }}, mountPath: {{ printf "/etc/kferry/tls-%s" .dir }}, readOnly: true}
      {{- end }}
      {{- end }}
      {{- if .Values.encryption.secret }}
      - {name: encryption, mountPath: /etc/kferry/encryption, readOnly: true}
      {{- end }}
volumes:
  - name: tmp
    emptyDir: {}
  {{- range $clusters }}
  {{- if and .c.tls.enabled .c.tls.secret }}
  - name: {{ printf "tls-%s" .dir }}
    secret: {secretName: {{ .c.tls.secret | quote }}}
  {{- end }}
  {{- end }}
  {{- if .Values.encryption.secret }}
  - name: encryption
    secret: {secretName: {{ .Values.encryption.secret | quote }}}
  {{- end }}
{{- end -}}
