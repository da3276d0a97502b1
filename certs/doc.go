// Package certs keeps the webhook server's TLS certificate without
// cert-manager: it issues a CA and a serving certificate into a Secret,
// renews them well before they expire, serves the current pair from memory
// and writes the CA bundle into the webhook configurations that call the
// server.
//
// Every replica runs a Rotator against the same Secret. Writes use
// optimistic locking, so when two replicas race the first write wins and
// the other adopts it on its next read.
package certs
