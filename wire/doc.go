// Package wire owns the JSON shapes of Orchestrator's API that more than
// one side reads or writes: the server (internal/httpapi and the services
// behind it), the Go SDK (package sdk) and the CLI (internal/cli). Each
// shape is declared once, here, so that its field names, and which fields
// are left out when empty, cannot drift apart between the sides; the
// server's answers are the contract (SPEC §2, §6), so these declarations
// are what the server writes.
//
// The sides hold a few free-form JSON values differently: the server
// decodes a condition's value and an action's payload to evaluate them
// (any, map[string]any), while the SDK hands them to its caller as
// json.RawMessage. Those shapes are generic in how such a value is held
// (Policy[V, P]); each side names its instance once with an alias
// (nextactions.Policy = wire.Policy[any, map[string]any], sdk.Policy =
// wire.Policy[json.RawMessage, json.RawMessage]).
//
// The package is public because the SDK is built from other modules;
// everything else of the server stays under internal/. It holds types and
// constants only, no behaviour beyond what the JSON form itself means.
package wire

// DefaultSession is the Context Service session of the properties
// written without one (SPEC §5): "/{ns}/properties" and
// "/{ns}/__default__/properties" are the same data, and Next Actions
// variables fall back to it.
const DefaultSession = "__default__"
