// Command kube-test-server is a Kubernetes API server for gpuplan's end-to-end tests: the
// built-in kinds gpuplan uses (kinds.go) and CRDs, with real etcd storage, watch, discovery,
// server-side apply by OpenAPI models generated from k8s.io/api, and dry run; built from
// Debian's Go packages by scripts/install-kube-test-server and started by
// scripts/kube-test-server. What it does not do is in README.md.
//
//	kube-test-server --etcd-servers URL --token-file tokens.csv --cert-dir DIR \
//	                 [--bind-address 127.0.0.1] [--secure-port 0] [--ready-file FILE]
//
// --secure-port 0 (the default) listens on a free port; --ready-file names a file the server
// writes its URL to once /readyz answers ok. Every flag of k8s.io/apiserver's etcd and secure
// serving options works as in kube-apiserver (--help lists them).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"
)

// options are the command line.
type options struct {
	run           *genericoptions.ServerRunOptions
	etcd          *genericoptions.EtcdOptions
	secureServing *genericoptions.SecureServingOptionsWithLoopback
	// tokenFile: a kube-apiserver static token file (CSV: token,user,uid,"group1,group2").
	tokenFile string
	// readyFile: where to write the URL once /readyz answers ok.
	readyFile string
}

func newOptions() *options {
	o := &options{
		run:           genericoptions.NewServerRunOptions(),
		etcd:          genericoptions.NewEtcdOptions(storagebackend.NewDefaultConfig("/registry", nil)),
		secureServing: genericoptions.NewSecureServingOptions().WithLoopback(),
	}
	// No garbage collector runs, so nothing would ever remove the foregroundDeletion or orphan
	// finalizers a delete would add: deletes take effect at once, whatever the propagation policy.
	o.etcd.EnableGarbageCollection = false
	o.secureServing.BindAddress = netutils.ParseIPSloppy("127.0.0.1")
	o.secureServing.BindPort = 0
	o.secureServing.ServerCert.CertDirectory = "certs"
	return o
}

func (o *options) addFlags(fs *pflag.FlagSet) {
	o.run.AddUniversalFlags(fs)
	o.etcd.AddFlags(fs)
	o.secureServing.AddFlags(fs)
	fs.StringVar(&o.tokenFile, "token-file", o.tokenFile,
		`Bearer tokens the server accepts, as kube-apiserver's static token file: lines of token,user,uid,"group1,group2". Required.`)
	fs.StringVar(&o.readyFile, "ready-file", o.readyFile,
		"Write the server's URL to this file once /readyz answers ok.")
}

func (o *options) validate() error {
	errs := o.run.Validate()
	errs = append(errs, o.etcd.Validate()...)
	errs = append(errs, o.secureServing.Validate()...)
	if o.tokenFile == "" {
		errs = append(errs, fmt.Errorf("--token-file is required"))
	}
	return utilerrors.NewAggregate(errs)
}

func main() {
	o := newOptions()
	fs := pflag.CommandLine
	o.addFlags(fs)
	klogFlags := flag.NewFlagSet("klog", flag.ExitOnError)
	klog.InitFlags(klogFlags)
	fs.AddGoFlagSet(klogFlags)
	pflag.Parse()

	if err := o.run.Complete(); err != nil {
		klog.ErrorS(err, "options")
		os.Exit(2)
	}
	if err := o.validate(); err != nil {
		fmt.Fprintf(os.Stderr, "kube-test-server: %v\n", err)
		os.Exit(2)
	}
	if err := run(genericapiserver.SetupSignalContext(), o); err != nil {
		klog.ErrorS(err, "kube-test-server")
		os.Exit(1)
	}
}
