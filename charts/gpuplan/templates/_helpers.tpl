{{- /*
Helpers that mirror how gpuplan renders its own operator (compiler/src/render/operator.rs and
its templates under compiler/src/render/templates/gpuplan-operator/), so that the chart's
Deployment is the object the plan's `gpuplan-operator` stage holds: the operator applying its
plan finds itself unchanged. A test compares the two for the same values.
*/ -}}

{{- /* The name of every object of the operator, as the plan names them. */ -}}
{{- define "gpuplan.name" -}}gpuplan-operator{{- end -}}

{{- /* The operator's version: `operator.version`, or the gpuplan release (appVersion). */ -}}
{{- define "gpuplan.version" -}}
{{- .Values.operator.version | default .Chart.AppVersion -}}
{{- end -}}

{{- /* The image reference: repository/image:version, or @version for a sha256 digest. */ -}}
{{- define "gpuplan.image" -}}
{{- $repository := regexReplaceAll "/+$" (.Values.operator.repository | default "") "" -}}
{{- $image := .Values.operator.image -}}
{{- $version := include "gpuplan.version" . -}}
{{- $name := ternary $image (printf "%s/%s" $repository $image) (eq $repository "") -}}
{{- if hasPrefix "sha256:" $version -}}
{{- printf "%s@%s" $name $version -}}
{{- else -}}
{{- printf "%s:%s" $name $version -}}
{{- end -}}
{{- end -}}

{{- /* The labels of every object: `operator.labels` under gpuplan's own (JSON). */ -}}
{{- define "gpuplan.labels" -}}
{{- $labels := deepCopy (.Values.operator.labels | default dict) -}}
{{- $_ := set $labels "app" (include "gpuplan.name" .) -}}
{{- $_ = set $labels "app.kubernetes.io/name" "gpuplan" -}}
{{- $_ = set $labels "app.kubernetes.io/component" "operator" -}}
{{- $_ = set $labels "app.kubernetes.io/instance" .Release.Name -}}
{{- /* gpuplan's version, not the image's: a `sha256:` digest is not a valid label value. */ -}}
{{- $_ = set $labels "app.kubernetes.io/version" .Chart.AppVersion -}}
{{- $_ = set $labels "app.kubernetes.io/managed-by" "gpuplan" -}}
{{- toJson $labels -}}
{{- end -}}

{{- /* The pod's labels: the labels, and the one NVIDIA's driver manager skips when it drains
a node for a driver upgrade (the operator must keep running while the driver is replaced). */ -}}
{{- define "gpuplan.podLabels" -}}
{{- $labels := include "gpuplan.labels" . | fromJson -}}
{{- $_ := set $labels "nvidia.com/gpu-driver-upgrade-drain.skip" "true" -}}
{{- toJson $labels -}}
{{- end -}}

{{- /* GPUPLAN_LOG: the level as given; `debug` in development mode. */ -}}
{{- define "gpuplan.logLevel" -}}
{{- $logging := .Values.operator.logging -}}
{{- if $logging.develMode -}}debug{{- else -}}{{ toString $logging.level }}{{- end -}}
{{- end -}}

{{- /* The container's env (JSON): the operator's own, then `operator.env` set by name as the
plan does (a name that is there is replaced in place; a new one goes at the end). */ -}}
{{- define "gpuplan.env" -}}
{{- $env := list
  (dict "name" "OPERATOR_NAMESPACE" "valueFrom" (dict "fieldRef" (dict "fieldPath" "metadata.namespace")))
  (dict "name" "GPUPLAN_LOG" "value" (include "gpuplan.logLevel" .)) -}}
{{- range $var := .Values.operator.env -}}
{{- $entry := dict "name" $var.name "value" (toString ($var.value | default "")) -}}
{{- $found := false -}}
{{- $next := list -}}
{{- range $e := $env -}}
{{- if eq $e.name $var.name -}}
{{- $next = append $next $entry -}}
{{- $found = true -}}
{{- else -}}
{{- $next = append $next $e -}}
{{- end -}}
{{- end -}}
{{- if not $found -}}
{{- $next = append $next $entry -}}
{{- end -}}
{{- $env = $next -}}
{{- end -}}
{{- toJson $env -}}
{{- end -}}
