// Command ggcr-registry serves go-containerregistry's registry (pkg/registry) for tests. The module's
// own cmd/registry neither enables the OCI 1.1 referrers API nor binds a chosen address, so this wrapper
// does: referrers on, 127.0.0.1, and the library's 1% `Warning` header kept as the peer's known quirk.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	referrers := flag.Bool("referrers", true, "serve the OCI 1.1 referrers API")
	warning := flag.Float64("warning-probability", 0.01, "probability of a Warning header on a response")
	blobsDir := flag.String("blobs-dir", "", "keep blobs in this folder instead of memory")
	quiet := flag.Bool("quiet", false, "do not log requests")
	flag.Parse()

	opts := []registry.Option{registry.WithReferrersSupport(*referrers)}
	if *warning > 0 {
		opts = append(opts, registry.WithWarning(*warning, "modelgate test registry: this is a Warning header"))
	}
	if *blobsDir != "" {
		opts = append(opts, registry.WithBlobHandler(registry.NewDiskBlobHandler(*blobsDir)))
	}
	if *quiet {
		opts = append(opts, registry.Logger(log.New(discard{}, "", 0)))
	}
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// Tests read this line to learn the port.
	fmt.Fprintf(os.Stderr, "serving on %s\n", listener.Addr().String())
	s := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: registry.New(opts...)}
	log.Fatal(s.Serve(listener))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
