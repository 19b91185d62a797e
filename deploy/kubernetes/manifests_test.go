// Package kubernetes_test checks the manifests in this directory: each
// must decode strictly into its Kubernetes API type, and together they
// must wire peekroute up as the binary expects.
package kubernetes_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/peekroute/peekroute/discovery"
)

// Defaults of the binary, used when the Deployment leaves a variable unset.
const (
	defaultShutdownDelay   = 5 * time.Second
	defaultShutdownTimeout = 30 * time.Second
)

// manifests holds every object found, by kind and name.
type manifests struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	pdbs        map[string]*policyv1.PodDisruptionBudget
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
}

// docSeparator matches a YAML document separator line.
var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// splitDocuments returns the non-empty YAML documents in data.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, doc := range docSeparator.Split(string(data), -1) {
		if hasContent(doc) {
			docs = append(docs, []byte(doc))
		}
	}
	return docs
}

// hasContent tells whether a document holds more than comments.
func hasContent(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return true
		}
	}
	return false
}

// decode strictly decodes one document into the type its apiVersion and
// kind name: unknown or duplicate fields are errors.
func (m *manifests) decode(doc []byte) error {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return err
	}
	if meta.Metadata.Name == "" {
		return fmt.Errorf("%s %s without metadata.name", meta.APIVersion, meta.Kind)
	}
	switch gvk := meta.APIVersion + "/" + meta.Kind; gvk {
	case "apps/v1/Deployment":
		return strictInto(doc, meta.Metadata.Name, m.deployments)
	case "v1/Service":
		return strictInto(doc, meta.Metadata.Name, m.services)
	case "policy/v1/PodDisruptionBudget":
		return strictInto(doc, meta.Metadata.Name, m.pdbs)
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return strictInto(doc, meta.Metadata.Name, m.hpas)
	default:
		return fmt.Errorf("unexpected object %s", gvk)
	}
}

func strictInto[T any](doc []byte, name string, into map[string]*T) error {
	obj := new(T)
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, dup := into[name]; dup {
		return fmt.Errorf("%s defined twice", name)
	}
	into[name] = obj
	return nil
}

// readManifests decodes every manifest in the directory, once.
var readManifests = sync.OnceValues(func() (*manifests, error) {
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		return nil, err
	}
	more, _ := filepath.Glob("*.yml")
	if files = append(files, more...); len(files) == 0 {
		return nil, errors.New("no manifests found")
	}
	m := &manifests{
		deployments: map[string]*appsv1.Deployment{},
		services:    map[string]*corev1.Service{},
		pdbs:        map[string]*policyv1.PodDisruptionBudget{},
		hpas:        map[string]*autoscalingv2.HorizontalPodAutoscaler{},
	}
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for i, doc := range splitDocuments(data) {
			if err := m.decode(doc); err != nil {
				errs = append(errs, fmt.Errorf("%s document %d: %w", f, i+1, err))
			}
		}
	}
	return m, errors.Join(errs...)
})

func TestManifestsDecode(t *testing.T) {
	if _, err := readManifests(); err != nil {
		t.Fatal(err)
	}
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m, err := readManifests()
	if err != nil {
		t.Fatal("the manifests do not decode; see TestManifestsDecode")
	}
	return m
}

func TestDecodingIsStrict(t *testing.T) {
	data, err := os.ReadFile("deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"unknown field": bytes.Replace(data, []byte("  replicas: 3\n"), []byte("  replicas: 3\n  replica: 3\n"), 1),
		"duplicate key": bytes.Replace(data, []byte("  replicas: 3\n"), []byte("  replicas: 3\n  replicas: 4\n"), 1),
		"unknown kind":  bytes.Replace(data, []byte("kind: Deployment"), []byte("kind: Deploymnet"), 1),
		"wrong type":    bytes.Replace(data, []byte("  replicas: 3\n"), []byte("  replicas: three\n"), 1),
	}
	for name, doc := range bad {
		if bytes.Equal(doc, data) {
			t.Fatalf("%s: the edit did not apply to deployment.yaml", name)
		}
		m := &manifests{deployments: map[string]*appsv1.Deployment{}}
		if err := m.decode(doc); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSplitDocuments(t *testing.T) {
	in := "# only a comment\n---\na: 1\n--- # next\nb: 2\n---\n\n"
	if got := splitDocuments([]byte(in)); len(got) != 2 {
		t.Fatalf("got %d documents, want 2: %q", len(got), got)
	}
}

func deployment(t *testing.T, m *manifests) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	d := m.deployments["peekroute"]
	if d == nil {
		t.Fatal("no Deployment peekroute")
	}
	for i, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "peekroute" {
			return d, &d.Spec.Template.Spec.Containers[i]
		}
	}
	t.Fatal("Deployment peekroute has no container peekroute")
	return nil, nil
}

func TestDeploymentProbesAndPorts(t *testing.T) {
	d, c := deployment(t, loadManifests(t))
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas = %v, want at least 2", d.Spec.Replicas)
	}
	ports := map[int32]string{}
	for _, p := range c.Ports {
		ports[p.ContainerPort] = p.Name
	}
	if len(ports) != 2 || ports[8080] == "" || ports[9090] == "" {
		t.Errorf("container ports = %v, want 8080 and 9090, both named", ports)
	}
	for _, probe := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"liveness", c.LivenessProbe, "/healthz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
	} {
		if probe.probe == nil || probe.probe.HTTPGet == nil {
			t.Errorf("%s probe: want an httpGet probe", probe.name)
			continue
		}
		get := probe.probe.HTTPGet
		if get.Path != probe.path {
			t.Errorf("%s probe path = %q, want %q", probe.name, get.Path, probe.path)
		}
		if port := containerPort(c, get.Port.StrVal, get.Port.IntVal); port != 9090 {
			t.Errorf("%s probe port %q is %d, want the admin port 9090", probe.name, get.Port.String(), port)
		}
	}
}

// containerPort resolves a port given by name or number to its number,
// 0 when the container has no such port.
func containerPort(c *corev1.Container, name string, number int32) int32 {
	for _, p := range c.Ports {
		if name != "" && p.Name == name || name == "" && p.ContainerPort == number {
			return p.ContainerPort
		}
	}
	return 0
}

func TestDeploymentSecurity(t *testing.T) {
	d, c := deployment(t, loadManifests(t))
	pod := d.Spec.Template.Spec.SecurityContext
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("container has no securityContext")
	}
	nonRoot := sc.RunAsNonRoot != nil && *sc.RunAsNonRoot || pod != nil && pod.RunAsNonRoot != nil && *pod.RunAsNonRoot
	user := sc.RunAsUser
	if user == nil && pod != nil {
		user = pod.RunAsUser
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil && pod != nil {
		seccomp = pod.SeccompProfile
	}
	checks := map[string]bool{
		"runAsNonRoot":                   nonRoot,
		"runAsUser 65532":                user != nil && *user == 65532,
		"readOnlyRootFilesystem":         sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem,
		"allowPrivilegeEscalation false": sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation,
		"capabilities drop ALL":          sc.Capabilities != nil && len(sc.Capabilities.Drop) == 1 && sc.Capabilities.Drop[0] == "ALL" && len(sc.Capabilities.Add) == 0,
		"seccompProfile RuntimeDefault":  seccomp != nil && seccomp.Type == corev1.SeccompProfileTypeRuntimeDefault,
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("container securityContext: want %s", name)
		}
	}
}

func TestDeploymentResources(t *testing.T) {
	_, c := deployment(t, loadManifests(t))
	r := c.Resources
	if r.Requests.Cpu().IsZero() || r.Requests.Memory().IsZero() {
		t.Errorf("resource requests = %v, want cpu and memory", r.Requests)
	}
	if r.Limits.Memory().IsZero() {
		t.Errorf("resource limits = %v, want memory", r.Limits)
	}
	for name, q := range r.Limits {
		if req, ok := r.Requests[name]; ok && q.Cmp(req) < 0 {
			t.Errorf("%s limit %s is below its request %s", name, q.String(), req.String())
		}
	}
}

func envValue(c *corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

func envDuration(t *testing.T, c *corev1.Container, name string, def time.Duration) time.Duration {
	t.Helper()
	v, ok := envValue(c, name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return d
}

func TestDeploymentShutdown(t *testing.T) {
	d, c := deployment(t, loadManifests(t))
	delay := envDuration(t, c, "PEEKROUTE_SHUTDOWN_DELAY", defaultShutdownDelay)
	timeout := envDuration(t, c, "PEEKROUTE_SHUTDOWN_TIMEOUT", defaultShutdownTimeout)
	grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil {
		t.Fatal("terminationGracePeriodSeconds not set")
	}
	if g := time.Duration(*grace) * time.Second; g <= delay+timeout {
		t.Errorf("terminationGracePeriodSeconds %v must exceed shutdown delay %v + timeout %v", g, delay, timeout)
	}
	if key, _ := envValue(c, "PEEKROUTE_KEY"); key == "" {
		t.Error("PEEKROUTE_KEY not set")
	}
}

func TestServiceTargetsHTTPPort(t *testing.T) {
	m := loadManifests(t)
	d, c := deployment(t, m)
	s := m.services["peekroute"]
	if s == nil {
		t.Fatal("no Service peekroute")
	}
	if !selects(s.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("Service selector %v does not select the pods %v", s.Spec.Selector, d.Spec.Template.Labels)
	}
	if len(s.Spec.Ports) != 1 {
		t.Fatalf("Service ports = %v, want one", s.Spec.Ports)
	}
	p := s.Spec.Ports[0]
	if p.Port != 80 {
		t.Errorf("Service port = %d, want 80", p.Port)
	}
	if port := containerPort(c, p.TargetPort.StrVal, p.TargetPort.IntVal); port != 8080 {
		t.Errorf("Service targetPort %q is %d, want the http port 8080", p.TargetPort.String(), port)
	}
}

// selects tells whether a non-empty selector matches labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestDisruptionBudgetSelectsDeployment(t *testing.T) {
	m := loadManifests(t)
	d, _ := deployment(t, m)
	pdb := m.pdbs["peekroute"]
	if pdb == nil {
		t.Fatal("no PodDisruptionBudget peekroute")
	}
	sel := pdb.Spec.Selector
	if sel == nil || len(sel.MatchExpressions) != 0 || !selects(sel.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("PodDisruptionBudget selector %v does not select the pods %v", sel, d.Spec.Template.Labels)
	}
	if pdb.Spec.MinAvailable == nil && pdb.Spec.MaxUnavailable == nil {
		t.Error("PodDisruptionBudget sets neither minAvailable nor maxUnavailable")
	}
}

func TestAutoscalerTargetsDeployment(t *testing.T) {
	m := loadManifests(t)
	d, c := deployment(t, m)
	hpa := m.hpas["peekroute"]
	if hpa == nil {
		t.Fatal("no HorizontalPodAutoscaler peekroute")
	}
	ref := hpa.Spec.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != d.Name {
		t.Errorf("scaleTargetRef = %+v, want the Deployment %s", ref, d.Name)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
		t.Errorf("replicas %v..%d, want a minimum of at least 2 below the maximum", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
	}
	cpu := false
	for _, metric := range hpa.Spec.Metrics {
		r := metric.Resource
		cpu = cpu || metric.Type == autoscalingv2.ResourceMetricSourceType && r != nil &&
			r.Name == corev1.ResourceCPU && r.Target.Type == autoscalingv2.UtilizationMetricType &&
			r.Target.AverageUtilization != nil && *r.Target.AverageUtilization > 0
	}
	if !cpu {
		t.Error("no CPU utilization metric")
	}
	if c.Resources.Requests.Cpu().IsZero() {
		t.Error("CPU utilization needs a CPU request on the container")
	}
}

// TestBackendsWiredToHeadlessService checks that PEEKROUTE_BACKENDS_DNS
// parses and names the headless backend Service and one of its ports.
func TestBackendsWiredToHeadlessService(t *testing.T) {
	m := loadManifests(t)
	_, c := deployment(t, m)
	backends := m.services["soap-backend"]
	if backends == nil {
		t.Fatal("no Service soap-backend")
	}
	if backends.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("soap-backend clusterIP = %q, want None (headless)", backends.Spec.ClusterIP)
	}
	if len(backends.Spec.Selector) == 0 {
		t.Error("soap-backend has no selector, so DNS would publish no pods")
	}
	value, _ := envValue(c, "PEEKROUTE_BACKENDS_DNS")
	target, err := discovery.ParseTarget(value)
	if err != nil {
		t.Fatalf("PEEKROUTE_BACKENDS_DNS: %v", err)
	}
	labels := strings.Split(strings.TrimSuffix(target.Name, "."), ".")
	portName, service, port := "", labels[0], strconv.Itoa(int(target.Port))
	if target.SRV {
		portName, service, port = strings.TrimPrefix(labels[0], "_"), labels[2], ""
		if labels[1] != "_tcp" {
			t.Errorf("SRV protocol %q, want _tcp", labels[1])
		}
	}
	if service != backends.Name {
		t.Errorf("PEEKROUTE_BACKENDS_DNS %q names service %q, want %q", value, service, backends.Name)
	}
	if !hasPort(backends, portName, port) {
		t.Errorf("PEEKROUTE_BACKENDS_DNS %q names a port soap-backend does not have", value)
	}
	if !hasPort(backends, "http", "") {
		t.Error("soap-backend has no port named http")
	}
}

// hasPort tells whether s has a TCP port with the given name or number.
func hasPort(s *corev1.Service, name, number string) bool {
	for _, p := range s.Spec.Ports {
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			continue
		}
		if name != "" && p.Name == name || number != "" && strconv.Itoa(int(p.Port)) == number {
			return true
		}
	}
	return false
}
