// Command etcd is the upstream etcd server (go.etcd.io/etcd/server/v3), at the
// exact version k8s.io/kubernetes itself requires, built from the module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
