// Package storagetest is the conformance suite every storage backend must
// pass in full: call Run from the backend's own test with a function that
// opens a fresh, empty backend.
package storagetest
