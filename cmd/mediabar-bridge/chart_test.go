package main

// The Helm chart (charts/mediabar-bridge), rendered with `helm template` and checked against
// the binary it deploys: probe paths the ops handler really serves, ports the binary really
// listens on, a config file the binary really accepts. Skipped when helm is not on PATH,
// unless HELM_REQUIRED=1 (CI), which turns a missing helm into a failure.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/mediabar-bridge/mediabar-bridge/config"
)

const chartDir = "../../charts/mediabar-bridge"

// chartValueSets are the values files every check runs with: the chart's defaults and the
// production-like CI values.
var chartValueSets = []struct {
	name string
	args []string
}{
	{"default values", nil},
	{"ci values", []string{"--values", filepath.Join(chartDir, "ci", "ci-values.yaml")}},
}

// k8sObject is the part of the rendered manifests the checks read.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"` // ConfigMap
	Spec struct {
		Ports    []servicePort `yaml:"ports"` // Service
		Template struct {      // Deployment
			Metadata struct {
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type servicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort any    `yaml:"targetPort"` // a number or a container port's name
}

type podSpec struct {
	SecurityContext securityContext `yaml:"securityContext"`
	Containers      []container     `yaml:"containers"`
	Volumes         []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		EmptyDir *struct{} `yaml:"emptyDir"`
	} `yaml:"volumes"`
}

type securityContext struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
	Capabilities             struct {
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
}

type container struct {
	Name  string `yaml:"name"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	StartupProbe    *probe          `yaml:"startupProbe"`
	LivenessProbe   *probe          `yaml:"livenessProbe"`
	ReadinessProbe  *probe          `yaml:"readinessProbe"`
	SecurityContext securityContext `yaml:"securityContext"`
	VolumeMounts    []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

// rendered is one `helm template` output, by kind (one object of each kind is expected).
type rendered map[string]k8sObject

func (r rendered) get(t *testing.T, kind string) k8sObject {
	t.Helper()
	o, ok := r[kind]
	if !ok {
		t.Fatalf("no %s in the rendered chart", kind)
	}
	return o
}

func TestChartDeploymentMatchesTheBinary(t *testing.T) {
	helm := helmPath(t)
	ops := opsServer(t)
	def := config.Default()
	wantPorts := map[string]int{"http": listenPort(t, def.Listen), "ops": listenPort(t, def.OpsListen)}

	for _, tt := range chartValueSets {
		t.Run(tt.name, func(t *testing.T) {
			objs := helmTemplate(t, helm, tt.args...)
			dep := objs.get(t, "Deployment")
			c := bridgeContainer(t, dep)
			ports := map[string]int{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}

			// Container ports are the binary's default listen ports.
			for name, want := range wantPorts {
				if ports[name] != want {
					t.Errorf("containerPort %q = %d, want %d (the binary's default)", name, ports[name], want)
				}
			}

			// Probes: on the ops port, at paths the ops handler serves.
			probes := map[string]*probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe}
			for kind, p := range probes {
				if p == nil || p.HTTPGet == nil {
					t.Errorf("%s probe: none, or not an httpGet probe", kind)
					continue
				}
				if got := resolvePort(t, p.HTTPGet.Port, ports); got != wantPorts["ops"] {
					t.Errorf("%s probe port %v = %d, want the ops port %d", kind, p.HTTPGet.Port, got, wantPorts["ops"])
				}
				if status := get(t, ops+p.HTTPGet.Path); status != http.StatusOK {
					t.Errorf("%s probe: GET %s on the ops handler = %d, want 200", kind, p.HTTPGet.Path, status)
				}
			}
			if got := c.LivenessProbe.HTTPGet.Path; got != "/livez" {
				t.Errorf("liveness probe path = %q, want /livez (no dependencies)", got)
			}
			if got := c.ReadinessProbe.HTTPGet.Path; got != "/readyz" {
				t.Errorf("readiness probe path = %q, want /readyz (Redis reachable)", got)
			}

			// The Service targets the container's ports, by name or number.
			svc := objs.get(t, "Service")
			targets := map[string]int{}
			for _, p := range svc.Spec.Ports {
				targets[p.Name] = resolvePort(t, p.TargetPort, ports)
			}
			for name, want := range wantPorts {
				if targets[name] != want {
					t.Errorf("Service port %q targets %d, want %d", name, targets[name], want)
				}
			}

			// Non-root, read-only root filesystem, no privileges.
			pod := dep.Spec.Template.Spec.SecurityContext
			if !isTrue(pod.RunAsNonRoot) && !isTrue(c.SecurityContext.RunAsNonRoot) {
				t.Error("runAsNonRoot is not true (pod or container)")
			}
			for _, uid := range []*int64{pod.RunAsUser, c.SecurityContext.RunAsUser} {
				if uid != nil && *uid == 0 {
					t.Error("runAsUser = 0, want a non-root UID")
				}
			}
			if !isTrue(c.SecurityContext.ReadOnlyRootFilesystem) {
				t.Error("container readOnlyRootFilesystem is not true")
			}
			if p := c.SecurityContext.AllowPrivilegeEscalation; p == nil || *p {
				t.Error("container allowPrivilegeEscalation is not false")
			}
			if d := c.SecurityContext.Capabilities.Drop; len(d) != 1 || d[0] != "ALL" {
				t.Errorf("container capabilities.drop = %v, want [ALL]", d)
			}
			if mountOf(c, "/tmp") == "" {
				t.Error("no volume mounted on /tmp (the root filesystem is read-only)")
			}

			// The config the binary reads: MBB_CONFIG points into the ConfigMap's volume.
			cfgPath := envOf(c, "MBB_CONFIG")
			cm := objs.get(t, "ConfigMap")
			vol := mountOf(c, filepath.Dir(cfgPath))
			var fromCM bool
			for _, v := range dep.Spec.Template.Spec.Volumes {
				fromCM = fromCM || (v.Name == vol && v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name)
			}
			if !fromCM {
				t.Errorf("MBB_CONFIG=%q is not in a volume of the ConfigMap %s", cfgPath, cm.Metadata.Name)
			}
			if _, ok := cm.Data[filepath.Base(cfgPath)]; !ok {
				t.Errorf("ConfigMap %s has no key %q (MBB_CONFIG=%q)", cm.Metadata.Name, filepath.Base(cfgPath), cfgPath)
			}
		})
	}
}

// The rendered config.yaml is one the binary loads and validates, with the secrets from the
// environment (as the Secret provides them), and it listens on the container ports.
func TestChartConfigIsAcceptedByTheBinary(t *testing.T) {
	helm := helmPath(t)
	for _, tt := range chartValueSets {
		t.Run(tt.name, func(t *testing.T) {
			objs := helmTemplate(t, helm, tt.args...)
			c := bridgeContainer(t, objs.get(t, "Deployment"))
			path := filepath.Join(t.TempDir(), "config.yaml")
			data := objs.get(t, "ConfigMap").Data[filepath.Base(envOf(c, "MBB_CONFIG"))]
			if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path, fakeSecretEnv)
			if err != nil {
				t.Fatalf("config.Load(rendered config.yaml) = %v\n%s", err, data)
			}
			if demo := cfg.DemoSecrets(); len(demo) > 0 {
				t.Errorf("rendered config keeps demo secrets %v", demo)
			}
			for name, listen := range map[string]string{"http": cfg.Listen, "ops": cfg.OpsListen} {
				var want int
				for _, p := range c.Ports {
					if p.Name == name {
						want = p.ContainerPort
					}
				}
				if got := listenPort(t, listen); got != want {
					t.Errorf("config listens for %s on %d, containerPort is %d", name, got, want)
				}
			}
		})
	}
}

func TestChartChecksumsRollThePods(t *testing.T) {
	helm := helmPath(t)
	annotations := func(args ...string) map[string]string {
		return helmTemplate(t, helm, args...).get(t, "Deployment").Spec.Template.Metadata.Annotations
	}
	base := annotations()
	for _, key := range []string{"checksum/config", "checksum/secret"} {
		if base[key] == "" {
			t.Fatalf("pod template has no %s annotation: %v", key, base)
		}
	}
	if again := annotations(); again["checksum/config"] != base["checksum/config"] || again["checksum/secret"] != base["checksum/secret"] {
		t.Errorf("checksums differ between two identical renders: %v, %v", base, again)
	}
	tests := []struct {
		give    string
		changed string
	}{
		{give: "config.log_level=debug", changed: "checksum/config"},
		{give: "config.pop.workers=9", changed: "checksum/config"},
		{give: "redis.url=redis://other:6379/0", changed: "checksum/config"},
		{give: "secrets.MBB_ADMIN_TOKEN=another-admin-token-value", changed: "checksum/secret"},
	}
	for _, tt := range tests {
		got := annotations("--set", tt.give)
		if got[tt.changed] == base[tt.changed] {
			t.Errorf("--set %s: %s unchanged (%s), want a new one", tt.give, tt.changed, got[tt.changed])
		}
	}
}

func TestChartLints(t *testing.T) {
	helm := helmPath(t)
	for _, tt := range chartValueSets {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"lint", "--strict", chartDir}, tt.args...)
			if out, err := runHelm(t, helm, args...); err != nil {
				t.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}

// The values schema catches wrong types and misplaced keys before anything is rendered.
func TestChartSchemaRejectsBadValues(t *testing.T) {
	helm := helmPath(t)
	tests := []string{
		"replicaCount=three",
		"ports.ops=ninety",
		"redis.mode=memcached",
		"config.listen=:8081",
		"config.redis.url=redis://elsewhere:6379/0",
		"config.admin.token=in-a-configmap",
		"config.log_level=loud",
		"config.runtime.gc_min_heap_mib=-1",
		"secrets.lowercase=x",
	}
	for _, give := range tests {
		args := []string{"template", "mbb", chartDir, "--set", give}
		out, err := runHelm(t, helm, args...)
		if err == nil || !bytes.Contains(out, []byte("schema")) {
			t.Errorf("helm template --set %s = %v, want a values schema error\n%.300s", give, err, out)
		}
	}
}

// The values schema describes config: with the config's own keys (so that a renamed or new
// field cannot drift from the chart unnoticed), minus what the chart owns or keeps out of the
// ConfigMap. Needs no helm.
func TestChartSchemaFollowsTheConfig(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema schemaNode
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	cfg, ok := schema.Properties["config"]
	if !ok {
		t.Fatal("values.schema.json has no config property")
	}
	// Chart-owned (from ports and the redis block) or secret (from the Secret).
	notInValues := map[string]bool{"listen": true, "ops_listen": true, "admin": true,
		"redis.url": true, "redis.addrs": true, "redis.master_name": true, "redis.username": true,
		"redis.password": true, "redis.db": true}
	checkSchemaKeys(t, "config", cfg, reflect.TypeFor[config.Config](), notInValues)
}

// schemaNode is the part of a JSON schema the check reads.
type schemaNode struct {
	Properties           map[string]schemaNode `json:"properties"`
	Items                *schemaNode           `json:"items"`
	AdditionalProperties any                   `json:"additionalProperties"`
}

// checkSchemaKeys checks that every property the schema names at path is a YAML key of typ,
// and, where the schema closes the object (additionalProperties: false), that it names every
// key of typ but those in skip (by path below "config.").
func checkSchemaKeys(t *testing.T, path string, node schemaNode, typ reflect.Type, skip map[string]bool) {
	t.Helper()
	for typ.Kind() == reflect.Slice || typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
		if node.Items != nil {
			node = *node.Items
		}
	}
	if typ.Kind() != reflect.Struct {
		return
	}
	fields := map[string]reflect.Type{}
	for f := range typ.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" {
			fields[name] = f.Type
		}
	}
	for name, sub := range node.Properties {
		ft, ok := fields[name]
		if !ok {
			t.Errorf("values.schema.json: %s.%s is not a config key (%s has no such YAML field)", path, name, typ)
			continue
		}
		checkSchemaKeys(t, path+"."+name, sub, ft, skip)
	}
	if open, isBool := node.AdditionalProperties.(bool); !isBool || open {
		return
	}
	for name := range fields {
		key := strings.TrimPrefix(path+"."+name, "config.")
		if _, ok := node.Properties[name]; !ok && !skip[key] {
			t.Errorf("values.schema.json: %s allows no %q, a config key; add it (or list it as chart-owned)", path, name)
		}
	}
}

// helmPath finds helm, or skips the test (fails it with HELM_REQUIRED=1).
func helmPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("helm")
	if err != nil {
		if os.Getenv("HELM_REQUIRED") == "1" {
			t.Fatalf("HELM_REQUIRED=1 but helm is not on PATH: %v", err)
		}
		t.Skip("helm is not on PATH (set HELM_REQUIRED=1 to fail instead)")
	}
	return path
}

func runHelm(t *testing.T, helm string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, helm, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return append(stdout.Bytes(), stderr.Bytes()...), err
}

// helmTemplate renders the chart as release "mbb" and indexes the objects by kind.
func helmTemplate(t *testing.T, helm string, args ...string) rendered {
	t.Helper()
	all := append([]string{"template", "mbb", chartDir}, args...)
	out, err := runHelm(t, helm, all...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(all, " "), err, out)
	}
	objs := rendered{}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse helm template output: %v\n%s", err, out)
		}
		if o.Kind == "" {
			continue
		}
		if _, dup := objs[o.Kind]; dup && o.Kind != "Pod" {
			t.Fatalf("two %s objects in the rendered chart", o.Kind)
		}
		objs[o.Kind] = o
	}
	return objs
}

func bridgeContainer(t *testing.T, dep k8sObject) container {
	t.Helper()
	cs := dep.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("Deployment %s has %d containers, want 1", dep.Metadata.Name, len(cs))
	}
	return cs[0]
}

// resolvePort turns a probe's or Service's port (a number or a container port's name) into a
// number; 0 when the name is unknown.
func resolvePort(t *testing.T, port any, named map[string]int) int {
	t.Helper()
	switch p := port.(type) {
	case int:
		return p
	case string:
		if n, err := strconv.Atoi(p); err == nil {
			return n
		}
		return named[p]
	}
	t.Errorf("port %v (%T) is neither a number nor a name", port, port)
	return 0
}

func listenPort(t *testing.T, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	return n
}

func envOf(c container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// mountOf returns the name of the volume mounted at path, "" when none.
func mountOf(c container, path string) string {
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			return m.Name
		}
	}
	return ""
}

func isTrue(b *bool) bool { return b != nil && *b }

// opsServer serves the real ops handler of a replica wired like serve wires it, over an
// in-process Redis, and returns its base URL.
func opsServer(t *testing.T) string {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	a, err := newApp(config.Default(), rdb, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.crm.Close)
	srv := httptest.NewServer(a.api.OpsHandler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// fakeSecretEnv stands in for the Secret: every secret the bridge reads, and nothing else.
func fakeSecretEnv(name string) string {
	switch {
	case name == "MBB_ACD_WEBHOOK_SECRETS":
		return "whsec_" + base64.StdEncoding.EncodeToString([]byte("chart-test webhook key, 32 bytes"))
	case name == "MBB_MEDIABAR_TOKEN_SECRET":
		return "chart-test-mediabar-token-secret-of-40-bytes"
	case name == "MBB_ADMIN_TOKEN":
		return "chart-test-admin-token"
	case strings.HasPrefix(name, "MBB_CRM_") && (strings.HasSuffix(name, "_PASSWORD") || strings.HasSuffix(name, "_API_KEY")):
		return "chart-test-crm-credential"
	}
	return ""
}
