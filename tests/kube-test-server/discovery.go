package main

// The legacy (unaggregated) /apis list for the groups the apiextensions server serves.
//
// This server answers /apis; the apiextensions server behind it (server.go) serves
// /apis/<group> and /apis/<group>/<version> of CRDs itself and adds them to the aggregated
// discovery document the two servers share, but it does not list groups in /apis: in a real
// cluster the aggregator does that, from an APIService per CRD group, and there is no aggregator
// here. So this keeps the list here: apiextensions.k8s.io, and each group with a served version
// of an Established CRD, versions in Kubernetes order (v2, v1, v1beta1, ...) with the first
// preferred, as the apiextensions server orders them in /apis/<group>.

import (
	"sort"

	apiextensionshelpers "k8s.io/apiextensions-apiserver/pkg/apihelpers"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsinformers "k8s.io/apiextensions-apiserver/pkg/client/informers/externalversions/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apiserver/pkg/endpoints/discovery"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// listCRDGroups adds apiextensions.k8s.io to groups now, and keeps the CRD groups in it as the
// CRD informer sees them change. The informer must not have started yet.
func listCRDGroups(groups discovery.GroupManager, crds apiextensionsinformers.CustomResourceDefinitionInformer) error {
	groups.AddGroup(apiGroup(apiextensionsv1.GroupName, []string{apiextensionsv1.SchemeGroupVersion.Version}))

	listed := sets.New[string]()
	sync := func() {
		all, err := crds.Lister().List(labels.Everything())
		if err != nil {
			klog.ErrorS(err, "listing CRDs for /apis")
			return
		}
		served := map[string]sets.Set[string]{}
		for _, crd := range all {
			if !apiextensionshelpers.IsCRDConditionTrue(crd, apiextensionsv1.Established) {
				continue
			}
			for _, v := range crd.Spec.Versions {
				if !v.Served {
					continue
				}
				if served[crd.Spec.Group] == nil {
					served[crd.Spec.Group] = sets.New[string]()
				}
				served[crd.Spec.Group].Insert(v.Name)
			}
		}
		for group := range listed {
			if _, ok := served[group]; !ok {
				groups.RemoveGroup(group)
				listed.Delete(group)
			}
		}
		for group, versions := range served {
			groups.AddGroup(apiGroup(group, sets.List(versions)))
			listed.Insert(group)
		}
	}
	// An informer calls the handlers of one registration one at a time, so sync never runs twice
	// at once.
	_, err := crds.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { sync() },
		UpdateFunc: func(any, any) { sync() },
		DeleteFunc: func(any) { sync() },
	})
	return err
}

// apiGroup is the /apis entry of a group serving versions, the preferred one first.
func apiGroup(name string, versions []string) metav1.APIGroup {
	sort.Slice(versions, func(i, j int) bool {
		return version.CompareKubeAwareVersionStrings(versions[i], versions[j]) > 0
	})
	group := metav1.APIGroup{Name: name}
	for _, v := range versions {
		group.Versions = append(group.Versions, metav1.GroupVersionForDiscovery{GroupVersion: name + "/" + v, Version: v})
	}
	group.PreferredVersion = group.Versions[0]
	return group
}
