// Command fetch downloads the upstream manifests listed in
// test/testdata/upstream/sources.yaml through the Go module proxy into an
// output folder (bin/upstream/ under make). hack/upstream-manifests.sh
// runs it; see package sources.
//
// Usage:
//
//	go run ./test/upstream/fetch [-sources FILE] OUT_DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"

	"github.com/fluxgate/fluxgate/test/upstream/sources"
)

func main() {
	list := flag.String("sources", sources.File, "the source list")
	goCmd := flag.String("go", "go", "the go command that downloads the modules")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: fetch [-sources FILE] [-go GO] OUT_DIR\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *list, flag.Arg(0), *goCmd); err != nil {
		fmt.Fprintln(os.Stderr, "fetch:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, file, out, goCmd string) error {
	l, err := sources.Load(file)
	if err != nil {
		return err
	}
	if err := sources.Fetch(ctx, l, out, goCmd); err != nil {
		return err
	}
	names := make([]string, 0, len(l.Sources))
	for _, s := range l.Sources {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	fmt.Printf("%s: %s\n", out, strings.Join(names, " "))
	return nil
}
