// Package test holds fluxgate's black-box tests: they build the fluxgate
// binary and run it as a pipeline would, over fixture repositories shaped
// like real Flux repositories, and check exit codes and output.
package test
