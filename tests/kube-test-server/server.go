package main

// How the server is put together, the way kube-apiserver puts its own together, minus the
// aggregator: this server (the kinds of kinds.go) answers first and hands every path it does not
// serve to the upstream apiextensions-apiserver (CRDs and custom resources), running in the same
// process on the same etcd. Both share the loopback client, the informers, authentication and
// authorization, and one aggregated discovery document; discovery.go lists the CRD groups in
// the legacy /apis.
//
// Authentication: bearer tokens from --token-file (and the loopback token the server makes for
// itself). Authorization: everything is allowed. Admission: none.

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	noopoteltrace "go.opentelemetry.io/otel/trace/noop"

	generatedopenapi "github.com/gpuplan/gpuplan/tests/kube-test-server/generated/openapi"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsv1beta1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	apiextensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	apiextensionsoptions "k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	apiextensionsopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/token/tokenfile"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	discoveryaggregated "k8s.io/apiserver/pkg/endpoints/discovery/aggregated"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
	"k8s.io/apiserver/pkg/util/openapi"
	"k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	restclient "k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/kube-openapi/pkg/common"
	netutils "k8s.io/utils/net"
)

// run builds both servers from the options and serves until ctx is done.
func run(ctx context.Context, o *options) error {
	config, err := o.config()
	if err != nil {
		return err
	}
	extensionsConfig, err := o.apiextensionsConfig(config)
	if err != nil {
		return err
	}
	extensions, err := extensionsConfig.Complete().New(genericapiserver.NewEmptyDelegate())
	if err != nil {
		return fmt.Errorf("apiextensions server: %w", err)
	}
	server, err := config.Complete().New("kube-test-server", extensions.GenericAPIServer)
	if err != nil {
		return err
	}
	if err := installKinds(server, config.RESTOptionsGetter); err != nil {
		return err
	}
	if err := listCRDGroups(server.DiscoveryGroupManager, extensions.Informers.Apiextensions().V1().CustomResourceDefinitions()); err != nil {
		return err
	}
	server.AddPostStartHookOrDie("kube-test-server-system-namespaces", createSystemNamespaces)
	if o.readyFile != "" {
		url := "https://" + net.JoinHostPort(o.secureServing.BindAddress.String(), fmt.Sprint(o.secureServing.BindPort))
		server.AddPostStartHookOrDie("kube-test-server-ready-file", func(hook genericapiserver.PostStartHookContext) error {
			go writeWhenReady(hook, hook.LoopbackClientConfig, o.readyFile, url)
			return nil
		})
	}
	return server.PrepareRun().RunWithContext(ctx)
}

// config is the configuration of this server (the apiextensions server's is made from it).
func (o *options) config() (*genericapiserver.RecommendedConfig, error) {
	config := genericapiserver.NewRecommendedConfig(codecs)
	if err := o.run.ApplyTo(&config.Config); err != nil {
		return nil, err
	}

	// --secure-port 0: listen on a free port of --bind-address; the ready file tells which.
	if o.secureServing.BindPort == 0 && o.secureServing.Listener == nil {
		listener, err := net.Listen("tcp", net.JoinHostPort(o.secureServing.BindAddress.String(), "0"))
		if err != nil {
			return nil, err
		}
		o.secureServing.Listener = listener
	}
	if err := o.secureServing.MaybeDefaultWithSelfSignedCerts("localhost", nil, []net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	if err := o.secureServing.ApplyToConfig(&config.Config); err != nil {
		return nil, err
	}

	tokens, err := tokenfile.NewCSV(o.tokenFile)
	if err != nil {
		return nil, fmt.Errorf("--token-file: %w", err)
	}
	config.Authentication.Authenticator = bearertoken.New(tokens)
	allowAll := authorizerfactory.NewAlwaysAllowAuthorizer()
	config.Authorization.Authorizer = allowAll
	config.RuleResolver = allowAll
	genericapiserver.AuthorizeClientBearerToken(config.LoopbackClientConfig, &config.Authentication, &config.Authorization)

	etcd := *o.etcd
	etcd.StorageConfig.Codec = codecs.LegacyCodec(groupVersions...)
	etcd.StorageConfig.EncodeVersioner = schema.GroupVersions(groupVersions)
	if err := etcd.ApplyTo(&config.Config); err != nil {
		return nil, err
	}
	config.MergedResourceConfig = serverstorage.NewResourceConfig()
	config.MergedResourceConfig.EnableVersions(groupVersions...)

	namer := openapinamer.NewDefinitionNamer(openAPIScheme(), apiextensionsapiserver.Scheme)
	definitions := openapi.GetOpenAPIDefinitionsWithoutDisabledFeatures(openAPIDefinitions)
	config.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(definitions, namer)
	config.OpenAPIConfig.Info.Title = "Kubernetes"
	config.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(definitions, namer)
	config.OpenAPIV3Config.Info.Title = "Kubernetes"

	client, err := kubernetes.NewForConfig(config.LoopbackClientConfig)
	if err != nil {
		return nil, err
	}
	config.ClientConfig = config.LoopbackClientConfig
	config.SharedInformerFactory = informers.NewSharedInformerFactory(client, 10*time.Minute)
	// One aggregated discovery document for both servers (in kube-apiserver the aggregator
	// merges them).
	config.AggregatedDiscoveryGroupManager = discoveryaggregated.NewResourceManager("apis")
	return config, nil
}

// apiextensionsConfig is the apiextensions server's configuration: this server's, with the
// storage, resources and post-start hooks of its own (as kube-apiserver makes it).
func (o *options) apiextensionsConfig(config *genericapiserver.RecommendedConfig) (*apiextensionsapiserver.Config, error) {
	generic := config.Config
	generic.PostStartHooks = map[string]genericapiserver.PostStartHookConfigEntry{}
	generic.RESTOptionsGetter = nil

	etcd := *o.etcd
	etcd.StorageConfig.Codec = apiextensionsapiserver.Codecs.LegacyCodec(apiextensionsv1beta1.SchemeGroupVersion, apiextensionsv1.SchemeGroupVersion)
	etcd.StorageConfig.EncodeVersioner = runtime.NewMultiGroupVersioner(apiextensionsv1beta1.SchemeGroupVersion,
		schema.GroupKind{Group: apiextensionsv1beta1.GroupName})
	etcd.SkipHealthEndpoints = true // this server checks etcd already
	if err := etcd.ApplyTo(&generic); err != nil {
		return nil, err
	}
	generic.MergedResourceConfig = apiextensionsapiserver.DefaultAPIResourceConfigSource()

	return &apiextensionsapiserver.Config{
		GenericConfig: &genericapiserver.RecommendedConfig{Config: generic, SharedInformerFactory: config.SharedInformerFactory},
		ExtraConfig: apiextensionsapiserver.ExtraConfig{
			CRDRESTOptionsGetter: apiextensionsoptions.NewCRDRESTOptionsGetter(etcd, generic.ResourceTransformers, generic.StorageObjectCountTracker),
			MasterCount:          1,
			ServiceResolver:      serviceResolver{config.SharedInformerFactory.Core().V1().Services().Lister()},
			AuthResolverWrapper: webhook.NewDefaultAuthenticationInfoResolverWrapper(nil, nil, generic.LoopbackClientConfig,
				noopoteltrace.NewTracerProvider()),
		},
	}, nil
}

// installKinds installs storage for every kind of kinds.go, one API group at a time.
func installKinds(server *genericapiserver.GenericAPIServer, options generic.RESTOptionsGetter) error {
	for _, gv := range groupVersions {
		group := genericapiserver.NewDefaultAPIGroupInfo(gv.Group, scheme, metav1.ParameterCodec, codecs)
		resources := map[string]rest.Storage{}
		for _, k := range kinds {
			if k.gvr.GroupVersion() != gv {
				continue
			}
			storage, err := newStorage(k, options)
			if err != nil {
				return fmt.Errorf("storage for %s: %w", k.gvr.GroupResource(), err)
			}
			for path, s := range storage {
				resources[path] = s
			}
		}
		group.VersionedResourcesStorageMap[gv.Version] = resources
		var err error
		if gv.Group == "" {
			err = server.InstallLegacyAPIGroup(genericapiserver.DefaultLegacyAPIPrefix, &group)
		} else {
			err = server.InstallAPIGroup(&group)
		}
		if err != nil {
			return fmt.Errorf("installing %s: %w", gv, err)
		}
	}
	return nil
}

// openAPIDefinitions are the OpenAPI models of every served kind: generated from k8s.io/api by
// openapi-gen when the server is built (scripts/install-kube-test-server), and those the
// apiextensions package ships for its own kinds. Server-side apply merges by them.
func openAPIDefinitions(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	definitions := generatedopenapi.GetOpenAPIDefinitions(ref)
	for name, definition := range apiextensionsopenapi.GetOpenAPIDefinitions(ref) {
		if _, ok := definitions[name]; !ok {
			definitions[name] = definition
		}
	}
	return definitions
}

// openAPIScheme knows the served kinds as v1 only, to name OpenAPI models and tag them with the
// kinds they are (x-kubernetes-group-version-kind): a tag for the internal version, which
// shares the Go type, would make no sense to a client.
func openAPIScheme() *runtime.Scheme {
	external := runtime.NewScheme()
	for _, k := range kinds {
		for _, obj := range []runtime.Object{k.newObject(), k.newList()} {
			kinds, _, err := scheme.ObjectKinds(obj)
			if err != nil {
				panic(err) // every kind of the table is in scheme (kinds.go init)
			}
			for _, gvk := range kinds {
				if gvk.Version != runtime.APIVersionInternal {
					external.AddKnownTypeWithName(gvk, obj)
				}
			}
		}
	}
	return external
}

// systemNamespaces are the namespaces every cluster has (kube-apiserver's system namespaces
// controller makes them).
var systemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// createSystemNamespaces creates the systemNamespaces that do not exist yet (a post-start hook:
// /readyz waits for it).
func createSystemNamespaces(hook genericapiserver.PostStartHookContext) error {
	client, err := kubernetes.NewForConfig(hook.LoopbackClientConfig)
	if err != nil {
		return err
	}
	return wait.PollUntilContextCancel(hook, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		for _, name := range systemNamespaces {
			namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
			_, err := client.CoreV1().Namespaces().Create(ctx, namespace, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				klog.InfoS("creating system namespaces, trying again", "namespace", name, "err", err)
				return false, nil
			}
		}
		return true, nil
	})
}

// writeWhenReady polls /readyz through the loopback client until it answers "ok", then writes
// the server's URL to path (atomically), so that whoever started the server knows where and that
// it is ready.
func writeWhenReady(ctx context.Context, loopback *restclient.Config, path, url string) {
	client, err := kubernetes.NewForConfig(loopback)
	if err != nil {
		klog.ErrorS(err, "ready file: loopback client")
		return
	}
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
	if err != nil {
		return
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(url+"\n"), 0o644); err != nil {
		klog.ErrorS(err, "ready file")
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		klog.ErrorS(err, "ready file")
		return
	}
	klog.InfoS("ready", "url", url, "readyFile", filepath.Clean(path))
}

// serviceResolver finds the Service of a CRD conversion webhook, as the apiextensions server's
// own command does.
type serviceResolver struct {
	services corelisters.ServiceLister
}

// ResolveEndpoint implements webhook.ServiceResolver.
func (r serviceResolver) ResolveEndpoint(namespace, name string, port int32) (*url.URL, error) {
	return proxy.ResolveCluster(r.services, namespace, name, port)
}
