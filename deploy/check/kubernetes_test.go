package check

import (
	"bytes"
	"encoding/json"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/ampel/ampel/config"
)

// manifests is one rendered kustomization, decoded into the Kubernetes API
// types.
type manifests struct {
	namespaces      map[string]*corev1.Namespace
	serviceAccounts map[string]*corev1.ServiceAccount
	configMaps      map[string]*corev1.ConfigMap
	secrets         map[string]*corev1.Secret
	claims          map[string]*corev1.PersistentVolumeClaim
	services        map[string]*corev1.Service
	deployments     map[string]*appsv1.Deployment
	budgets         map[string]*policyv1.PodDisruptionBudget
}

// render builds a kustomization directory with kustomize's own library
// (what `kubectl apply -k` runs) and decodes every object strictly into
// its Kubernetes API type: an unknown field, a value of the wrong type or
// a kind the checks do not know fails the test.
func render(t *testing.T, dir string) manifests {
	t.Helper()
	m := manifests{
		namespaces: map[string]*corev1.Namespace{}, serviceAccounts: map[string]*corev1.ServiceAccount{},
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		claims: map[string]*corev1.PersistentVolumeClaim{}, services: map[string]*corev1.Service{},
		deployments: map[string]*appsv1.Deployment{}, budgets: map[string]*policyv1.PodDisruptionBudget{},
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	require.NoError(t, err, "kustomize build %s", dir)
	for _, r := range res.Resources() {
		b, err := r.MarshalJSON()
		require.NoError(t, err)
		var meta metav1.TypeMeta
		require.NoError(t, json.Unmarshal(b, &meta))
		var obj metav1.Object
		switch meta.APIVersion + " " + meta.Kind {
		case "v1 Namespace":
			o := &corev1.Namespace{}
			obj, m.namespaces[r.GetName()] = o, o
		case "v1 ServiceAccount":
			o := &corev1.ServiceAccount{}
			obj, m.serviceAccounts[r.GetName()] = o, o
		case "v1 ConfigMap":
			o := &corev1.ConfigMap{}
			obj, m.configMaps[r.GetName()] = o, o
		case "v1 Secret":
			o := &corev1.Secret{}
			obj, m.secrets[r.GetName()] = o, o
		case "v1 PersistentVolumeClaim":
			o := &corev1.PersistentVolumeClaim{}
			obj, m.claims[r.GetName()] = o, o
		case "v1 Service":
			o := &corev1.Service{}
			obj, m.services[r.GetName()] = o, o
		case "apps/v1 Deployment":
			o := &appsv1.Deployment{}
			obj, m.deployments[r.GetName()] = o, o
		case "policy/v1 PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			obj, m.budgets[r.GetName()] = o, o
		default:
			require.Failf(t, "unknown kind", "%s renders %s %s, which these checks do not know", dir, meta.APIVersion, meta.Kind)
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		require.NoError(t, d.Decode(obj), "%s %s: %s", meta.Kind, r.GetName(), b)
		for _, msg := range validation.IsDNS1123Subdomain(obj.GetName()) {
			assert.Fail(t, "name", "%s %s: %s", meta.Kind, obj.GetName(), msg)
		}
		errs := metavalidation.ValidateLabels(obj.GetLabels(), field.NewPath("metadata", "labels"))
		assert.Empty(t, errs.ToAggregate(), "%s %s", meta.Kind, obj.GetName())
		if meta.Kind != "Namespace" {
			assert.Equal(t, "ampel", obj.GetNamespace(), "%s %s", meta.Kind, obj.GetName())
		}
	}
	return m
}

// TestKubernetesBase checks deploy/kubernetes/base: the embedded
// warehouse on a volume.
func TestKubernetesBase(t *testing.T) {
	m := render(t, path(t, "deploy", "kubernetes", "base"))
	d, cfg := checkDeployment(t, m)
	assert.Equal(t, "embedded", cfg.Warehouse.Driver)
	assert.Equal(t, appsv1.RecreateDeploymentStrategyType, d.Spec.Strategy.Type, "the old pod lets go of the warehouse before the new one opens it")
	assert.Equal(t, int32(1), *d.Spec.Replicas, "one process per embedded warehouse")

	// the warehouse directory is on the claim
	pod := d.Spec.Template.Spec
	var claim string
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
			mount := mountOf(t, pod.Containers[0], v.Name)
			assert.True(t, strings.HasPrefix(cfg.Warehouse.Path, mount+"/"), "warehouse.path %s is on the volume at %s", cfg.Warehouse.Path, mount)
		}
	}
	pvc, ok := m.claims[claim]
	require.True(t, ok, "the claim %q is in the manifests", claim)
	assert.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, pvc.Spec.AccessModes)
	assert.False(t, pvc.Spec.Resources.Requests.Storage().IsZero())
	assert.Equal(t, "ampel:latest", pod.Containers[0].Image)
}

// TestKubernetesServer checks deploy/kubernetes/server: a ClickHouse
// server as the warehouse, the CGO-free image, no volume.
func TestKubernetesServer(t *testing.T) {
	m := render(t, path(t, "deploy", "kubernetes", "server"))
	d, cfg := checkDeployment(t, m)
	assert.Equal(t, "clickhouse", cfg.Warehouse.Driver)
	assert.Empty(t, m.claims)
	for _, v := range d.Spec.Template.Spec.Volumes {
		assert.Nil(t, v.PersistentVolumeClaim, v.Name)
	}
	assert.Equal(t, "ampel:server", d.Spec.Template.Spec.Containers[0].Image)
}

// checkDeployment checks what both variants share and returns the
// Deployment and the config it mounts, loaded by Ampel's own config
// loader with the Secret's keys as its environment.
func checkDeployment(t *testing.T, m manifests) (*appsv1.Deployment, *config.Config) {
	t.Helper()
	require.Len(t, m.deployments, 1)
	d := m.deployments["ampel"]
	require.NotNil(t, d)
	ns := m.namespaces["ampel"]
	require.NotNil(t, ns)
	assert.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/enforce"])

	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	require.NoError(t, err)
	podLabels := labels.Set(d.Spec.Template.Labels)
	assert.True(t, sel.Matches(podLabels), "the Deployment's selector matches its pods")

	pod := d.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	assert.Equal(t, []string{"run", "--config", "/etc/ampel/ampel.yaml"}, c.Args, "the daemon: ampel run")
	assert.NotNil(t, pod.TerminationGracePeriodSeconds)
	assert.GreaterOrEqual(t, *pod.TerminationGracePeriodSeconds, int64(60), "a sync stores its state on SIGTERM")
	require.NotNil(t, pod.ServiceAccountName)
	assert.Contains(t, m.serviceAccounts, pod.ServiceAccountName)
	require.NotNil(t, pod.AutomountServiceAccountToken)
	assert.False(t, *pod.AutomountServiceAccountToken)

	// the restricted Pod Security Standard, and a read-only root
	psc := pod.SecurityContext
	require.NotNil(t, psc)
	assert.True(t, *psc.RunAsNonRoot)
	assert.NotZero(t, *psc.RunAsUser)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, psc.SeccompProfile.Type)
	csc := c.SecurityContext
	require.NotNil(t, csc)
	assert.True(t, *csc.ReadOnlyRootFilesystem)
	assert.False(t, *csc.AllowPrivilegeEscalation)
	assert.Equal(t, []corev1.Capability{"ALL"}, csc.Capabilities.Drop)
	assert.Empty(t, csc.Capabilities.Add)
	assert.Nil(t, csc.Privileged)

	// requests and limits
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
		assert.False(t, req.IsZero(), "request %s", r)
		assert.False(t, lim.IsZero(), "limit %s", r)
		assert.LessOrEqual(t, req.Cmp(lim), 0, "%s: request ≤ limit", r)
	}

	// probes on /healthz at the port ampel serves on
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		require.NotNil(t, p, name)
		require.NotNil(t, p.HTTPGet, name)
		assert.Equal(t, "/healthz", p.HTTPGet.Path, name)
		assert.Contains(t, ports, p.HTTPGet.Port.String(), "%s probe's port is a named container port", name)
	}

	// every volume's source is in the manifests, every mount has a volume
	volumes := map[string]bool{}
	var configMount string
	for _, v := range pod.Volumes {
		volumes[v.Name] = true
		if v.ConfigMap != nil {
			assert.Contains(t, m.configMaps, v.ConfigMap.Name)
			configMount = mountOf(t, c, v.Name)
		}
		if v.Secret != nil {
			assert.Contains(t, m.secrets, v.Secret.SecretName)
		}
	}
	for _, vm := range c.VolumeMounts {
		assert.True(t, volumes[vm.Name], "mount %s has a volume", vm.Name)
	}
	assert.Equal(t, "/etc/ampel", configMount)

	// the Service and the budget select the pods
	svc := m.services["ampel"]
	require.NotNil(t, svc)
	assert.True(t, labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels), "the Service selects the pods")
	for _, p := range svc.Spec.Ports {
		assert.Contains(t, ports, p.TargetPort.String())
	}
	pdb := m.budgets["ampel"]
	require.NotNil(t, pdb)
	psel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	require.NoError(t, err)
	assert.True(t, psel.Matches(podLabels), "the PodDisruptionBudget selects the pods")
	assert.True(t, (pdb.Spec.MaxUnavailable == nil) != (pdb.Spec.MinAvailable == nil), "one of minAvailable and maxUnavailable")
	if pdb.Spec.MaxUnavailable != nil {
		assert.GreaterOrEqual(t, pdb.Spec.MaxUnavailable.IntValue(), 1, "a single pod can be drained")
	}

	// the config: Ampel's loader accepts it with the environment the Secret gives
	require.Len(t, c.EnvFrom, 1)
	require.NotNil(t, c.EnvFrom[0].SecretRef)
	secret := m.secrets[c.EnvFrom[0].SecretRef.Name]
	require.NotNil(t, secret, "the Secret %q is in the manifests", c.EnvFrom[0].SecretRef.Name)
	getenv := func(k string) (string, bool) {
		v, ok := secret.StringData[k]
		return v, ok
	}
	cm := m.configMaps["ampel-config"]
	require.NotNil(t, cm)
	text, ok := cm.Data["ampel.yaml"]
	require.True(t, ok)
	cfg, err := config.Parse(filepath.Join(configMount, "ampel.yaml"), []byte(text), getenv)
	require.NoError(t, err, "the ConfigMap's ampel.yaml, with the Secret's keys as the environment")
	_, port, err := net.SplitHostPort(cfg.Serve.Addr)
	require.NoError(t, err)
	assert.Equal(t, port, strconv.Itoa(int(ports["http"])), "serve.addr is the container port")
	return d, cfg
}

func mountOf(t *testing.T, c corev1.Container, volume string) string {
	t.Helper()
	for _, vm := range c.VolumeMounts {
		if vm.Name == volume {
			return vm.MountPath
		}
	}
	require.Failf(t, "no mount", "volume %s is not mounted", volume)
	return ""
}
