// Package helm_test renders the kferry chart (deploy/helm/kferry) for every
// mode with Helm's own engine, lints it as `helm lint` does, and checks the
// manifests against the Kubernetes API types and the command line each mode
// must run. The rendered examples under deploy/examples are golden files:
// `go test ./deploy/helm -update` writes them again.
package helm_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "write deploy/examples again from the chart")

const chartDir = "kferry"

// modeCase is one mode with the values an operator would give it.
type modeCase struct {
	mode   string
	values string
	kinds  []string // kinds rendered, sorted
	args   []string // the container's command line
}

var cases = []modeCase{
	{"export-follow", `
mode: export-follow
replicas: 3
bucket: s3://my-bucket/kafka?region=eu-west-1
topicRegex: orders-.*
group: kferry-export-orders
kafka:
  brokers: b-1.msk:9098,b-2.msk:9098
  sasl: {mechanism: aws-msk-iam}
  tls: {enabled: true}
serviceAccount:
  annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::123456789012:role/kferry"}
metrics: {serviceMonitor: {enabled: true}}
`, []string{"Deployment", "PodDisruptionBudget", "Service", "ServiceAccount", "ServiceMonitor"},
		[]string{"export", "--follow", "--to", "s3://my-bucket/kafka?region=eu-west-1", "--topic-regex", "orders-.*", "--group", "kferry-export-orders",
			"--shutdown-timeout", "45s", "--metrics-addr", "0.0.0.0:9464", "--log-format", "json"}},
	{"import-follow", `
mode: import-follow
bucket: s3://my-bucket/kafka?region=eu-west-1
renames: ['source-topic-(\d+)=sink-topic-$1']
kafka:
  brokers: kafka-0.kafka:9092
  sasl: {mechanism: scram-sha-512, username: kferry, passwordSecret: {name: kferry-kafka, key: password}}
`, []string{"Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"},
		[]string{"import", "--follow", "--from", "s3://my-bucket/kafka?region=eu-west-1", "--rename", `source-topic-(\d+)=sink-topic-$1`,
			"--shutdown-timeout", "45s", "--metrics-addr", "0.0.0.0:9464", "--log-format", "json"}},
	{"migrate", `
mode: migrate
bucket: s3://kafka-migration/orders?region=eu-west-1
topics: [orders, payments]
migrate: {groups: 'billing-.*'}
source:
  brokers: b-1.msk:9098
  sasl: {mechanism: aws-msk-iam}
  tls: {enabled: true}
target:
  brokers: kafka-0.new:9093
  tls: {enabled: true, secret: new-cluster-tls, caKey: ca.crt, certKey: tls.crt, keyKey: tls.key}
encryption: {secret: kferry-age, key: kferry.key}
`, []string{"Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"},
		[]string{"migrate", "--follow", "--via", "s3://kafka-migration/orders?region=eu-west-1", "--topics", "orders,payments", "--groups", "billing-.*",
			"--shutdown-timeout", "45s", "--metrics-addr", "0.0.0.0:9464", "--encrypt-key-file", "/etc/kferry/encryption/kferry.key", "--log-format", "json"}},
	{"backup-follow", `
mode: backup-follow
bucket: gs://standby-backups/kafka
backup: {interval: 30s}
kafka: {brokers: 'kafka-0.kafka:9092'}
`, []string{"Deployment", "ServiceAccount"},
		[]string{"backup", "--follow", "--interval", "30s", "--to", "gs://standby-backups/kafka", "--shutdown-timeout", "45s", "--log-format", "json"}},
	{"backup-cron", `
mode: backup-cron
bucket: s3://my-bucket/backups?region=eu-west-1
backup: {schedule: '15 2 * * *', groups: '.*'}
kafka:
  brokers: kafka-0.kafka:9092
  sasl: {mechanism: scram-sha-512, username: kferry, passwordSecret: {name: kferry-kafka, key: password}}
encryption: {secret: kferry-backup-key, key: backup.key}
`, []string{"CronJob", "ServiceAccount"},
		[]string{"backup", "--to", "s3://my-bucket/backups?region=eu-west-1", "--groups", ".*", "--encrypt-key-file", "/etc/kferry/encryption/backup.key", "--log-format", "json"}},
	{"restore-job", `
mode: restore-job
bucket: azblob://backups/kafka
topicRegex: 'orders-.*'
restore: {groups: 'billing-.*'}
kafka: {brokers: 'standby-kafka:9092'}
serviceAccount:
  annotations: {azure.workload.identity/client-id: 00000000-0000-0000-0000-000000000000}
`, []string{"Job", "ServiceAccount"},
		[]string{"restore", "--from", "azblob://backups/kafka", "--topic-regex", "orders-.*", "--groups", "billing-.*", "--log-format", "json"}},
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// render renders the chart with values (YAML) as `helm template` does.
func render(t *testing.T, ch *chart.Chart, values string) (map[string]string, error) {
	t.Helper()
	vals, err := chartutil.ReadValues([]byte(values))
	if err != nil {
		t.Fatal(err)
	}
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{Name: "kferry", Namespace: "kafka", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	return engine.Render(ch, rv)
}

// documents splits the rendered templates into manifests, in file order.
func documents(out map[string]string) []string {
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	var docs []string
	for _, n := range names {
		if strings.HasSuffix(n, ".tpl") || strings.HasSuffix(n, "NOTES.txt") {
			continue
		}
		for _, d := range strings.Split(out[n], "\n---") {
			if strings.TrimSpace(d) != "" {
				docs = append(docs, strings.TrimSpace(d))
			}
		}
	}
	return docs
}

// strict decodes a manifest into its Kubernetes type, refusing unknown
// fields: a misspelt or misplaced field fails here as the API server would
// refuse (or silently drop) it.
func strict(t *testing.T, doc string) (kind string, obj any) {
	t.Helper()
	var meta struct{ APIVersion, Kind string }
	if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, doc)
	}
	types := map[string]any{
		"apps/v1/Deployment": &appsv1.Deployment{}, "batch/v1/CronJob": &batchv1.CronJob{}, "batch/v1/Job": &batchv1.Job{},
		"v1/ServiceAccount": &corev1.ServiceAccount{}, "v1/Service": &corev1.Service{}, "policy/v1/PodDisruptionBudget": &policyv1.PodDisruptionBudget{},
		"monitoring.coreos.com/v1/ServiceMonitor": &serviceMonitor{},
	}
	obj, ok := types[meta.APIVersion+"/"+meta.Kind]
	if !ok {
		t.Fatalf("unexpected %s %s", meta.APIVersion, meta.Kind)
	}
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		t.Fatalf("%s does not match the Kubernetes schema: %v\n%s", meta.Kind, err, doc)
	}
	return meta.Kind, obj
}

// serviceMonitor is the part of the Prometheus Operator's CRD the chart uses.
type serviceMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

func podOf(t *testing.T, obj any) corev1.PodSpec {
	t.Helper()
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Template.Spec
	case *batchv1.CronJob:
		return o.Spec.JobTemplate.Spec.Template.Spec
	case *batchv1.Job:
		return o.Spec.Template.Spec
	}
	t.Fatalf("%T has no pod", obj)
	return corev1.PodSpec{}
}

// TestChartModes: every mode renders, lints, matches the Kubernetes types,
// runs the expected command line with its secrets by reference, and equals
// its example under deploy/examples.
func TestChartModes(t *testing.T) {
	ch := loadChart(t)
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			vals, err := chartutil.ReadValues([]byte(tc.values))
			if err != nil {
				t.Fatal(err)
			}
			linter := lint.AllWithKubeVersion(chartDir, vals, "kafka", nil)
			for _, m := range linter.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m)
				}
			}
			out, err := render(t, ch, tc.values)
			if err != nil {
				t.Fatal(err)
			}
			docs := documents(out)
			var kinds []string
			for _, doc := range docs {
				kind, obj := strict(t, doc)
				kinds = append(kinds, kind)
				if kind != "Deployment" && kind != "CronJob" && kind != "Job" {
					continue
				}
				checkPod(t, tc, podOf(t, obj))
			}
			sort.Strings(kinds)
			if !slices.Equal(kinds, tc.kinds) {
				t.Errorf("rendered %v, want %v", kinds, tc.kinds)
			}
			checkExample(t, tc.mode, strings.Join(docs, "\n---\n")+"\n")
		})
	}
}

// checkPod: the command line, secrets only by reference, the probes where
// kferry serves them, and a non-root read-only container.
func checkPod(t *testing.T, tc modeCase, pod corev1.PodSpec) {
	t.Helper()
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Args, tc.args) {
		t.Errorf("args\n got %q\nwant %q", c.Args, tc.args)
	}
	for _, e := range c.Env {
		if strings.HasSuffix(e.Name, "PASSWORD") && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("%s is not taken from a Secret", e.Name)
		}
	}
	serves := c.ReadinessProbe != nil && c.LivenessProbe != nil
	if want := slices.Contains(tc.args, "--metrics-addr"); serves != want {
		t.Errorf("probes %v, want %v (kferry serves /readyz and /healthz only with --metrics-addr)", serves, want)
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("the container's root filesystem is writable")
	}
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("the pod may run as root")
	}
	mounted := map[string]bool{}
	for _, m := range c.VolumeMounts {
		mounted[m.MountPath] = true
	}
	for _, e := range c.Env {
		if strings.Contains(e.Name, "TLS_") && !mounted[filepath.Dir(e.Value)] {
			t.Errorf("%s=%s: nothing is mounted there", e.Name, e.Value)
		}
	}
	if i := slices.Index(c.Args, "--encrypt-key-file"); i >= 0 && !mounted[filepath.Dir(c.Args[i+1])] {
		t.Errorf("--encrypt-key-file %s: nothing is mounted there", c.Args[i+1])
	}
}

// checkExample compares a mode's manifests with deploy/examples/<mode>.yaml.
func checkExample(t *testing.T, mode, got string) {
	t.Helper()
	path := filepath.Join("..", "examples", mode+".yaml")
	header := "# Generated from deploy/helm/kferry by `go test ./deploy/helm -update`; the values are in deploy/helm/chart_test.go.\n"
	got = header + got
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./deploy/helm -update writes it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from what the chart renders; run go test ./deploy/helm -update and review the diff", path)
	}
}

// TestChartRefuses: values that cannot work fail the render with a message
// that says what to set.
func TestChartRefuses(t *testing.T) {
	ch := loadChart(t)
	for _, tc := range []struct{ values, want string }{
		{"mode: export\nbucket: s3://b\nkafka: {brokers: k:9092}\ntopics: [a]", `mode "export": use one of export-follow`},
		{"mode: export-follow\nkafka: {brokers: k:9092}\ntopics: [a]", "bucket is required"},
		{"mode: export-follow\nbucket: s3://b\ntopics: [a]", "kafka.brokers is required"},
		{"mode: export-follow\nbucket: s3://b\nkafka: {brokers: k:9092}", "mode export-follow needs topics or topicRegex"},
		{"mode: export-follow\nbucket: s3://b\nkafka: {brokers: k:9092}\ntopics: [a]\ntopicRegex: a.*", "set topics or topicRegex, not both"},
		{"mode: migrate\nbucket: s3://b\ntopics: [a]\nsource: {brokers: k:9092}", "mode migrate needs source.brokers and target.brokers"},
	} {
		_, err := render(t, ch, tc.values)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("values %q: %v, want an error containing %q", tc.values, err, tc.want)
		}
	}
}
