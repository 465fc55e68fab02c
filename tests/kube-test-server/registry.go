package main

// Storage for the kinds of kinds.go: one generic etcd-backed store per kind (k8s.io/apiserver's
// registry.Store, which brings watch, resourceVersions, dry run, field selectors on
// metadata.name/namespace, and server-side apply through the endpoint handlers), with one small
// strategy for every kind instead of the per-kind strategies of a real cluster.
//
// The strategy does what costs nothing: metadata is checked (name, labels, annotations, owner
// references, immutable fields), status is only written through /status and spec never through
// it, generation counts spec changes for workloads, and a kind's own cheap rules run
// (kind.prepare). It validates nothing else and defaults nothing: a real cluster's per-kind
// validation and defaulting live in k8s.io/kubernetes, which is not packaged.

import (
	"context"
	"reflect"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// newStorage is the storage of one kind: the resource, and its /status subresource when the kind
// has one (keyed "<plural>" and "<plural>/status", as APIGroupInfo wants them).
func newStorage(k kind, options generic.RESTOptionsGetter) (map[string]rest.Storage, error) {
	main := objectStrategy{ObjectTyper: scheme, NameGenerator: names.SimpleNameGenerator, kind: k}
	store := &genericregistry.Store{
		NewFunc:                   k.newObject,
		NewListFunc:               k.newList,
		DefaultQualifiedResource:  k.gvr.GroupResource(),
		SingularQualifiedResource: k.gvr.GroupVersion().WithResource(k.singular).GroupResource(),
		CreateStrategy:            main,
		UpdateStrategy:            main,
		DeleteStrategy:            main,
		ResetFieldsStrategy:       main,
		TableConvertor:            rest.NewDefaultTableConvertor(k.gvr.GroupResource()),
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: options}); err != nil {
		return nil, err
	}
	storage := map[string]rest.Storage{k.gvr.Resource: &resource{Store: store, kind: k}}
	if k.status {
		status := *store
		status.UpdateStrategy = statusStrategy{main}
		status.ResetFieldsStrategy = statusStrategy{main}
		storage[k.gvr.Resource+"/status"] = &statusResource{store: &status}
	}
	return storage, nil
}

// resource is a kind's main resource: the generic store, with the short names and categories
// discovery lists (kubectl get ds, kubectl get all).
type resource struct {
	*genericregistry.Store
	kind kind
}

// ShortNames implements rest.ShortNamesProvider.
func (r *resource) ShortNames() []string { return r.kind.shortNames }

// Categories implements rest.CategoriesProvider.
func (r *resource) Categories() []string { return r.kind.categories }

// statusResource is a kind's /status subresource: get and update (and so patch and apply) of the
// same objects, through statusStrategy.
type statusResource struct {
	store *genericregistry.Store
}

// New implements rest.Storage.
func (r *statusResource) New() runtime.Object { return r.store.New() }

// Destroy implements rest.Storage; the main resource owns the shared storage and destroys it.
func (r *statusResource) Destroy() {}

// Get implements rest.Getter.
func (r *statusResource) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update implements rest.Updater. A subresource never creates its object.
func (r *statusResource) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo,
	createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc,
	_ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields implements rest.ResetFieldsStrategy: server-side apply to /status owns no spec.
func (r *statusResource) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable implements rest.TableConvertor (kubectl get --subresource status).
func (r *statusResource) ConvertToTable(ctx context.Context, object runtime.Object, options runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, options)
}

// objectStrategy creates, updates and deletes the objects of one kind through its main resource.
type objectStrategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	kind kind
}

// NamespaceScoped implements rest.RESTCreateStrategy.
func (s objectStrategy) NamespaceScoped() bool { return s.kind.namespaced }

// PrepareForCreate implements rest.RESTCreateStrategy: no status on create (only /status writes
// it), generation 1 for workloads, then the kind's own rules.
func (s objectStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	if s.kind.status {
		setField(obj, "Status", reflect.Zero(fieldOf(obj, "Status").Type()))
	}
	if s.kind.generation {
		mustAccessor(obj).SetGeneration(1)
	}
	if s.kind.prepare != nil {
		s.kind.prepare(obj, nil)
	}
}

// PrepareForUpdate implements rest.RESTUpdateStrategy: status stays as stored, generation moves
// on when spec changed, then the kind's own rules.
func (s objectStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	if s.kind.status {
		setField(obj, "Status", fieldOf(old, "Status"))
	}
	if s.kind.generation {
		generation := mustAccessor(old).GetGeneration()
		if !apiequality.Semantic.DeepEqual(fieldOf(obj, "Spec").Interface(), fieldOf(old, "Spec").Interface()) {
			generation++
		}
		mustAccessor(obj).SetGeneration(generation)
	}
	if s.kind.prepare != nil {
		s.kind.prepare(obj, old)
	}
}

// Validate implements rest.RESTCreateStrategy: metadata only.
func (s objectStrategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	validName := s.kind.validName
	if validName == nil {
		validName = apivalidation.NameIsDNSSubdomain
	}
	return apivalidation.ValidateObjectMetaAccessor(mustAccessor(obj), s.kind.namespaced, validName, field.NewPath("metadata"))
}

// ValidateUpdate implements rest.RESTUpdateStrategy: metadata only, and what may not change.
func (s objectStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	errs := s.Validate(ctx, obj)
	return append(errs, apivalidation.ValidateObjectMetaAccessorUpdate(mustAccessor(obj), mustAccessor(old), field.NewPath("metadata"))...)
}

// WarningsOnCreate implements rest.RESTCreateStrategy.
func (objectStrategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

// WarningsOnUpdate implements rest.RESTUpdateStrategy.
func (objectStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// Canonicalize implements rest.RESTCreateStrategy.
func (objectStrategy) Canonicalize(runtime.Object) {}

// AllowCreateOnUpdate implements rest.RESTUpdateStrategy: PUT of a missing object is a 404, as
// for the built-in kinds of a real cluster (server-side apply creates regardless).
func (objectStrategy) AllowCreateOnUpdate() bool { return false }

// AllowUnconditionalUpdate implements rest.RESTUpdateStrategy: a PUT without resourceVersion
// overwrites.
func (objectStrategy) AllowUnconditionalUpdate() bool { return true }

// GetResetFields implements rest.ResetFieldsStrategy: an apply to the main resource does not own
// the status it cannot write.
func (s objectStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	if !s.kind.status {
		return nil
	}
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(s.kind.gvr.GroupVersion().String()): fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

// statusStrategy updates the objects of one kind through /status: only status changes.
type statusStrategy struct {
	objectStrategy
}

// PrepareForUpdate implements rest.RESTUpdateStrategy: spec and the metadata a status writer
// must not touch stay as stored.
func (s statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	if fieldOf(obj, "Spec").IsValid() {
		setField(obj, "Spec", fieldOf(old, "Spec"))
	}
	metav1.ResetObjectMetaForStatus(mustAccessor(obj), mustAccessor(old))
}

// ValidateUpdate implements rest.RESTUpdateStrategy.
func (s statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return apivalidation.ValidateObjectMetaAccessorUpdate(mustAccessor(obj), mustAccessor(old), field.NewPath("metadata"))
}

// GetResetFields implements rest.ResetFieldsStrategy: an apply to /status owns no spec.
func (s statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(s.kind.gvr.GroupVersion().String()): fieldpath.NewSet(fieldpath.MakePathOrDie("spec")),
	}
}

// fieldOf is the named field of the struct obj points to (not valid when there is none).
func fieldOf(obj runtime.Object, name string) reflect.Value {
	return reflect.ValueOf(obj).Elem().FieldByName(name)
}

// setField sets the named field of the struct obj points to.
func setField(obj runtime.Object, name string, value reflect.Value) {
	fieldOf(obj, name).Set(value)
}

// mustAccessor is the metadata of obj. Every served kind embeds ObjectMeta, so this cannot fail
// for the objects a store hands to its strategy.
func mustAccessor(obj runtime.Object) metav1.Object {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		panic(err)
	}
	return accessor
}
