// Package ccse2e holds the end-to-end tests of the Conversation Context
// Service: a real server on a loopback port driven over HTTP the way v1
// (maven-api-key) and v2 (token) clients call it, and across versions.
// It has no non-test code.
package ccse2e
