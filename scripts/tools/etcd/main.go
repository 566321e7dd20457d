// Command etcd is upstream's etcd server (go.etcd.io/etcd/server/v3's main package), built from the Go module
// proxy. That module cannot be `go install`ed (its go.mod replaces its sibling modules with local folders), so
// this wrapper requires it, and its siblings come at their published versions.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
