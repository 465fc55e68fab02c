package main

// The built-in kinds this server serves, in one table, and the scheme that knows them.
//
// The objects are the external k8s.io/api types themselves: there are no internal types and no
// conversions. Each served Go type is registered twice, as its group's v1 kind and as the
// group's internal ("__internal") kind, so that the generic API server machinery, which decodes
// requests to the internal version and encodes responses and storage to v1, finds the same Go
// type at both ends and only sets or clears apiVersion/kind.

import (
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
)

// kind is one served resource and the few rules the server applies to it.
type kind struct {
	gvr      schema.GroupVersionResource
	kind     string
	singular string
	// newObject and newList make an empty object and an empty list of the kind.
	newObject func() runtime.Object
	newList   func() runtime.Object
	// namespaced is false for cluster-scoped kinds.
	namespaced bool
	shortNames []string
	categories []string
	// status: the kind has a /status subresource; its main resource ignores status and the
	// subresource changes only status.
	status bool
	// generation: metadata.generation starts at 1 and counts changes of spec, as the
	// workload controllers of a real cluster expect.
	generation bool
	// validName checks metadata.name as the real API server does for the kind.
	validName apivalidation.ValidateNameFunc
	// prepare, when set, applies the kind's own cheap rules before an object is stored (old is
	// nil on create).
	prepare func(obj, old runtime.Object)
}

// The kinds, grouped by API group; gpuplan's plan and operator use every one of them.
var kinds = []kind{
	// core/v1
	{gvr: corev1.SchemeGroupVersion.WithResource("namespaces"), kind: "Namespace", singular: "namespace",
		newObject: func() runtime.Object { return &corev1.Namespace{} }, newList: func() runtime.Object { return &corev1.NamespaceList{} },
		shortNames: []string{"ns"}, status: true, validName: apivalidation.ValidateNamespaceName, prepare: prepareNamespace},
	{gvr: corev1.SchemeGroupVersion.WithResource("nodes"), kind: "Node", singular: "node",
		newObject: func() runtime.Object { return &corev1.Node{} }, newList: func() runtime.Object { return &corev1.NodeList{} },
		shortNames: []string{"no"}, status: true},
	{gvr: corev1.SchemeGroupVersion.WithResource("configmaps"), kind: "ConfigMap", singular: "configmap",
		newObject: func() runtime.Object { return &corev1.ConfigMap{} }, newList: func() runtime.Object { return &corev1.ConfigMapList{} },
		namespaced: true, shortNames: []string{"cm"}},
	{gvr: corev1.SchemeGroupVersion.WithResource("secrets"), kind: "Secret", singular: "secret",
		newObject: func() runtime.Object { return &corev1.Secret{} }, newList: func() runtime.Object { return &corev1.SecretList{} },
		namespaced: true, prepare: prepareSecret},
	{gvr: corev1.SchemeGroupVersion.WithResource("services"), kind: "Service", singular: "service",
		newObject: func() runtime.Object { return &corev1.Service{} }, newList: func() runtime.Object { return &corev1.ServiceList{} },
		namespaced: true, shortNames: []string{"svc"}, categories: []string{"all"}, status: true,
		validName: apivalidation.NameIsDNS1035Label},
	{gvr: corev1.SchemeGroupVersion.WithResource("serviceaccounts"), kind: "ServiceAccount", singular: "serviceaccount",
		newObject: func() runtime.Object { return &corev1.ServiceAccount{} }, newList: func() runtime.Object { return &corev1.ServiceAccountList{} },
		namespaced: true, shortNames: []string{"sa"}},
	{gvr: corev1.SchemeGroupVersion.WithResource("pods"), kind: "Pod", singular: "pod",
		newObject: func() runtime.Object { return &corev1.Pod{} }, newList: func() runtime.Object { return &corev1.PodList{} },
		namespaced: true, shortNames: []string{"po"}, categories: []string{"all"}, status: true},
	{gvr: corev1.SchemeGroupVersion.WithResource("events"), kind: "Event", singular: "event",
		newObject: func() runtime.Object { return &corev1.Event{} }, newList: func() runtime.Object { return &corev1.EventList{} },
		namespaced: true, shortNames: []string{"ev"}},

	// apps/v1
	{gvr: appsv1.SchemeGroupVersion.WithResource("daemonsets"), kind: "DaemonSet", singular: "daemonset",
		newObject: func() runtime.Object { return &appsv1.DaemonSet{} }, newList: func() runtime.Object { return &appsv1.DaemonSetList{} },
		namespaced: true, shortNames: []string{"ds"}, categories: []string{"all"}, status: true, generation: true},
	{gvr: appsv1.SchemeGroupVersion.WithResource("deployments"), kind: "Deployment", singular: "deployment",
		newObject: func() runtime.Object { return &appsv1.Deployment{} }, newList: func() runtime.Object { return &appsv1.DeploymentList{} },
		namespaced: true, shortNames: []string{"deploy"}, categories: []string{"all"}, status: true, generation: true},
	{gvr: appsv1.SchemeGroupVersion.WithResource("statefulsets"), kind: "StatefulSet", singular: "statefulset",
		newObject: func() runtime.Object { return &appsv1.StatefulSet{} }, newList: func() runtime.Object { return &appsv1.StatefulSetList{} },
		namespaced: true, shortNames: []string{"sts"}, categories: []string{"all"}, status: true, generation: true},

	// batch/v1
	{gvr: batchv1.SchemeGroupVersion.WithResource("jobs"), kind: "Job", singular: "job",
		newObject: func() runtime.Object { return &batchv1.Job{} }, newList: func() runtime.Object { return &batchv1.JobList{} },
		namespaced: true, categories: []string{"all"}, status: true, generation: true},

	// rbac.authorization.k8s.io/v1: stored and served only; nothing authorizes by them.
	{gvr: rbacv1.SchemeGroupVersion.WithResource("roles"), kind: "Role", singular: "role",
		newObject: func() runtime.Object { return &rbacv1.Role{} }, newList: func() runtime.Object { return &rbacv1.RoleList{} },
		namespaced: true, validName: path.ValidatePathSegmentName},
	{gvr: rbacv1.SchemeGroupVersion.WithResource("rolebindings"), kind: "RoleBinding", singular: "rolebinding",
		newObject: func() runtime.Object { return &rbacv1.RoleBinding{} }, newList: func() runtime.Object { return &rbacv1.RoleBindingList{} },
		namespaced: true, validName: path.ValidatePathSegmentName},
	{gvr: rbacv1.SchemeGroupVersion.WithResource("clusterroles"), kind: "ClusterRole", singular: "clusterrole",
		newObject: func() runtime.Object { return &rbacv1.ClusterRole{} }, newList: func() runtime.Object { return &rbacv1.ClusterRoleList{} },
		validName: path.ValidatePathSegmentName},
	{gvr: rbacv1.SchemeGroupVersion.WithResource("clusterrolebindings"), kind: "ClusterRoleBinding", singular: "clusterrolebinding",
		newObject: func() runtime.Object { return &rbacv1.ClusterRoleBinding{} }, newList: func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} },
		validName: path.ValidatePathSegmentName},

	// node.k8s.io/v1
	{gvr: nodev1.SchemeGroupVersion.WithResource("runtimeclasses"), kind: "RuntimeClass", singular: "runtimeclass",
		newObject: func() runtime.Object { return &nodev1.RuntimeClass{} }, newList: func() runtime.Object { return &nodev1.RuntimeClassList{} }},

	// coordination.k8s.io/v1
	{gvr: coordinationv1.SchemeGroupVersion.WithResource("leases"), kind: "Lease", singular: "lease",
		newObject: func() runtime.Object { return &coordinationv1.Lease{} }, newList: func() runtime.Object { return &coordinationv1.LeaseList{} },
		namespaced: true},

	// events.k8s.io/v1 (what kube-rs's event recorder writes; stored apart from core/v1 events)
	{gvr: eventsv1.SchemeGroupVersion.WithResource("events"), kind: "Event", singular: "event",
		newObject: func() runtime.Object { return &eventsv1.Event{} }, newList: func() runtime.Object { return &eventsv1.EventList{} },
		namespaced: true, shortNames: []string{"ev"}},

	// policy/v1, networking.k8s.io/v1, scheduling.k8s.io/v1
	{gvr: policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets"), kind: "PodDisruptionBudget", singular: "poddisruptionbudget",
		newObject: func() runtime.Object { return &policyv1.PodDisruptionBudget{} }, newList: func() runtime.Object { return &policyv1.PodDisruptionBudgetList{} },
		namespaced: true, shortNames: []string{"pdb"}, status: true, generation: true},
	{gvr: networkingv1.SchemeGroupVersion.WithResource("networkpolicies"), kind: "NetworkPolicy", singular: "networkpolicy",
		newObject: func() runtime.Object { return &networkingv1.NetworkPolicy{} }, newList: func() runtime.Object { return &networkingv1.NetworkPolicyList{} },
		namespaced: true, shortNames: []string{"netpol"}},
	{gvr: schedulingv1.SchemeGroupVersion.WithResource("priorityclasses"), kind: "PriorityClass", singular: "priorityclass",
		newObject: func() runtime.Object { return &schedulingv1.PriorityClass{} }, newList: func() runtime.Object { return &schedulingv1.PriorityClassList{} },
		shortNames: []string{"pc"}},
}

// groupVersions are the served API group versions, in the order their groups are installed.
var groupVersions = []schema.GroupVersion{
	corev1.SchemeGroupVersion,
	appsv1.SchemeGroupVersion,
	batchv1.SchemeGroupVersion,
	rbacv1.SchemeGroupVersion,
	nodev1.SchemeGroupVersion,
	coordinationv1.SchemeGroupVersion,
	eventsv1.SchemeGroupVersion,
	policyv1.SchemeGroupVersion,
	networkingv1.SchemeGroupVersion,
	schedulingv1.SchemeGroupVersion,
}

var (
	// scheme knows every served kind (as v1 and as internal) and the meta types.
	scheme = runtime.NewScheme()
	// codecs serialize the served kinds (JSON, YAML, protobuf).
	codecs = serializer.NewCodecFactory(scheme)
)

func init() {
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, rbacv1.AddToScheme,
		nodev1.AddToScheme, coordinationv1.AddToScheme, eventsv1.AddToScheme, policyv1.AddToScheme,
		networkingv1.AddToScheme, schedulingv1.AddToScheme,
	} {
		utilruntime.Must(add(scheme))
	}
	for _, k := range kinds {
		internal := schema.GroupVersion{Group: k.gvr.Group, Version: runtime.APIVersionInternal}
		for _, obj := range []runtime.Object{k.newObject(), k.newList()} {
			scheme.AddKnownTypeWithName(internal.WithKind(reflect.TypeOf(obj).Elem().Name()), obj)
		}
	}
	for _, gv := range groupVersions {
		utilruntime.Must(scheme.SetVersionPriority(gv))
	}
	// The types every API server answers with, whatever the group (as in sample-apiserver).
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	scheme.AddUnversionedTypes(schema.GroupVersion{Version: "v1"},
		&metav1.Status{}, &metav1.APIVersions{}, &metav1.APIGroupList{}, &metav1.APIGroup{}, &metav1.APIResourceList{})
}

// prepareNamespace: a new namespace is Active and carries the kubernetes.io/metadata.name label,
// as a real cluster's are. (Nothing ever makes it Terminating: deleting it deletes it at once.)
func prepareNamespace(obj, old runtime.Object) {
	namespace := obj.(*corev1.Namespace)
	if old == nil {
		namespace.Status.Phase = corev1.NamespaceActive
	}
	if namespace.Labels == nil {
		namespace.Labels = map[string]string{}
	}
	namespace.Labels[corev1.LabelMetadataName] = namespace.Name
}

// prepareSecret: stringData is write-only and merged into data, as the real API server's
// conversion does it.
func prepareSecret(obj, _ runtime.Object) {
	secret := obj.(*corev1.Secret)
	if len(secret.StringData) == 0 {
		return
	}
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	for key, value := range secret.StringData {
		secret.Data[key] = []byte(value)
	}
	secret.StringData = nil
}
